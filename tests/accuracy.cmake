# accuracy.cmake - frame-accuracy gates on every sample sequence in sample_frames/*/
# (issues 4 and 6). Each sequence is replayed once per medial-side setting (a CTest
# fixture), then every gate is one `usguide eval --require ...` test on that result:
#   bone_accuracy_<seq>   sacrum and ilium mean edge distance <= 0.5 mm, coverage >= 0.90,
#                         no label swaps, target error median <= 1.0 mm, p95 <= 2.5 mm;
#   bone_auto_side_<seq>  replayed with --medial-side auto (the ilium is the shallower and
#                         steeper bone): no label swaps, both bones still covered >= 0.90;
#   needle_accuracy_<seq> with a needle: recall >= 0.98, false positives <= 1 %, tip error
#                         median <= 0.5 mm, p95 <= 1.5 mm, axis angle error median <= 1 deg,
#                         p95 <= 2.5 deg; a needle-free sequence: no needle on any frame.
# Speed is not gated here (machines are shared and noisy): `usguide bench` measures it.
# The real-tissue bone check (BoneUltrasound_L14 against tests/data/l14_cortex.txt) is in
# tests/test_bone.c.
set(USG_BONE_REQS --require "sacrum_mean_dist_mm<=0.5" --require "sacrum_coverage>=0.90"
                  --require "ilium_mean_dist_mm<=0.5" --require "ilium_coverage>=0.90"
                  --require "label_swaps<=0"
                  --require "target_err_median_mm<=1.0" --require "target_err_p95_mm<=2.5")
set(USG_NEEDLE_REQS --require "needle_recall>=0.98" --require "needle_fp_rate<=0.01"
                    --require "tip_err_median_mm<=0.5" --require "tip_err_p95_mm<=1.5"
                    --require "angle_err_median_deg<=1.0" --require "angle_err_p95_deg<=2.5")
set(USG_NO_NEEDLE_REQS --require "needle_fp_rate<=0")
set(USG_BONE_AUTO_REQS --require "label_swaps<=0" --require "sacrum_coverage>=0.90"
                       --require "ilium_coverage>=0.90")

# usg_replay_fixture(NAME SEQ_DIR RESULTS [replay options...]): replay once, as fixture NAME.
function(usg_replay_fixture name seq_dir results)
  add_test(NAME ${name} COMMAND $<TARGET_FILE:usguide> replay ${seq_dir} --quiet --results ${results} ${ARGN})
  set_tests_properties(${name} PROPERTIES FIXTURES_SETUP ${name} TIMEOUT 600 LABELS "accuracy")
endfunction()

# usg_eval_gate(NAME FIXTURE TRUTH RESULTS LABEL requirements...): score a fixture's results.
function(usg_eval_gate name fixture truth results label)
  add_test(NAME ${name} COMMAND $<TARGET_FILE:usguide> eval ${truth} ${results} ${ARGN})
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED ${fixture} TIMEOUT 600 LABELS "accuracy;${label}")
endfunction()

file(GLOB USG_SAMPLE_TRUTHS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sample_frames/*/truth.jsonl)
foreach(truth ${USG_SAMPLE_TRUTHS})
  get_filename_component(seq_dir ${truth} DIRECTORY)
  get_filename_component(seq ${seq_dir} NAME)
  set(results ${CMAKE_CURRENT_BINARY_DIR}/tmp/replay_${seq}.jsonl)
  set(results_auto ${CMAKE_CURRENT_BINARY_DIR}/tmp/replay_auto_${seq}.jsonl)
  usg_replay_fixture(replay_${seq} ${seq_dir} ${results})
  usg_replay_fixture(replay_auto_${seq} ${seq_dir} ${results_auto} --medial-side auto)
  usg_eval_gate(bone_accuracy_${seq} replay_${seq} ${truth} ${results} bone ${USG_BONE_REQS})
  usg_eval_gate(bone_auto_side_${seq} replay_auto_${seq} ${truth} ${results_auto} bone ${USG_BONE_AUTO_REQS})
  file(READ ${truth} truth_text)
  string(REGEX MATCH "\"needle\": *{\"found\": *true" has_needle "${truth_text}")
  if(has_needle)
    usg_eval_gate(needle_accuracy_${seq} replay_${seq} ${truth} ${results} needle ${USG_NEEDLE_REQS})
  else()
    usg_eval_gate(needle_accuracy_${seq} replay_${seq} ${truth} ${results} needle ${USG_NO_NEEDLE_REQS})
  endif()
endforeach()
