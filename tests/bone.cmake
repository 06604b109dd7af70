# bone.cmake - bone surface and joint-entry target gates (issue 4).
#
# Accuracy: every sample sequence in sample_frames/*/ is replayed and scored
# with `usguide eval --require`: sacrum and ilium mean edge distance <= 0.5 mm
# and coverage >= 0.90, no label swaps, target error median <= 1.0 mm and
# 95th percentile <= 2.5 mm.
# Latency: the bone and target stages together, median <= 1.5 ms per 640x480
# frame (single-threaded, `usguide bench` on the curvilinear sample).
# Medial side inferred: every sample is replayed again with `--medial-side auto`
# (the ilium is the shallower and steeper bone, a running vote): no label swaps
# on any frame, and both bones still covered (>= 0.90).
# The real-tissue check (BoneUltrasound_L14 against tests/data/l14_cortex.txt)
# is in tests/test_bone.c.
file(GLOB USG_BONE_TRUTHS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sample_frames/*/truth.jsonl)
foreach(truth ${USG_BONE_TRUTHS})
  get_filename_component(seq_dir ${truth} DIRECTORY)
  get_filename_component(seq ${seq_dir} NAME)
  set(results ${CMAKE_CURRENT_BINARY_DIR}/tmp/bone_${seq}.jsonl)
  set(reqs --require "sacrum_mean_dist_mm<=0.5" --require "sacrum_coverage>=0.90"
           --require "ilium_mean_dist_mm<=0.5" --require "ilium_coverage>=0.90"
           --require "label_swaps<=0"
           --require "target_err_median_mm<=1.0" --require "target_err_p95_mm<=2.5")
  add_test(NAME bone_accuracy_${seq}
           COMMAND sh -c "b=\"$1\" d=\"$2\" r=\"$3\"; shift 3; \"$b\" replay \"$d\" --quiet --results \"$r\" && \"$b\" eval \"$d/truth.jsonl\" \"$r\" \"$@\""
                   sh $<TARGET_FILE:usguide> ${seq_dir} ${results} ${reqs})
  set_tests_properties(bone_accuracy_${seq} PROPERTIES TIMEOUT 600 LABELS "accuracy;bone")
  set(results_auto ${CMAKE_CURRENT_BINARY_DIR}/tmp/bone_auto_${seq}.jsonl)
  set(reqs_auto --require "label_swaps<=0" --require "sacrum_coverage>=0.90" --require "ilium_coverage>=0.90")
  add_test(NAME bone_auto_side_${seq}
           COMMAND sh -c "b=\"$1\" d=\"$2\" r=\"$3\"; shift 3; \"$b\" replay \"$d\" --quiet --medial-side auto --results \"$r\" && \"$b\" eval \"$d/truth.jsonl\" \"$r\" \"$@\""
                   sh $<TARGET_FILE:usguide> ${seq_dir} ${results_auto} ${reqs_auto})
  set_tests_properties(bone_auto_side_${seq} PROPERTIES TIMEOUT 600 LABELS "accuracy;bone")
endforeach()

set(USG_BONE_BENCH_SEQ ${CMAKE_SOURCE_DIR}/sample_frames/curv_lateral)
if(EXISTS ${USG_BONE_BENCH_SEQ}/truth.jsonl)
  add_test(NAME bone_target_latency
           COMMAND sh -c "j=$(\"$1\" bench \"$2\" --repeat 5 --json) || exit 1; \
p50=$(printf '%s' \"$j\" | sed -n 's/.*\"tracking\\/bone+target\": {[^}]*\"p50\": \\([0-9.]*\\).*/\\1/p'); \
[ -n \"$p50\" ] || { echo 'no tracking/bone+target in the bench output'; exit 1; }; \
echo \"bone+target median $p50 ms per frame (limit 1.5)\"; \
awk -v v=\"$p50\" 'BEGIN { exit !(v <= 1.5) }'"
                   sh $<TARGET_FILE:usguide> ${USG_BONE_BENCH_SEQ})
  set_tests_properties(bone_target_latency PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE LABELS "latency;bone")
endif()
