# eval.cmake - `usguide eval` on real simulator output (issue 3): the truth of a
# fresh `usguide sim` sequence scored against itself must be perfect (recall 1,
# zero errors, full coverage), and the sample sequences' truth files must parse.
# The gates show the --require form the accuracy tests use.
set(eval_self_reqs
    --require "frames_missing<=0" --require "needle_recall>=1" --require "needle_fp_rate<=0"
    --require "tip_err_p95_mm<=0" --require "angle_err_p95_deg<=0"
    --require "sacrum_mean_dist_mm<=0" --require "sacrum_coverage>=1"
    --require "ilium_mean_dist_mm<=0" --require "ilium_coverage>=1"
    --require "label_swaps<=0" --require "target_err_p95_mm<=0")
set(eval_scratch ${CMAKE_CURRENT_BINARY_DIR}/tmp/eval_sim_self)
add_test(NAME eval_sim_self
         COMMAND sh -c "b=\"$1\" d=\"$2\"; shift 2; rm -rf \"$d\" && \"$b\" sim \"$d\" --seed 7 --frames 12 --quiet && \"$b\" eval \"$d\" \"$d/truth.jsonl\" \"$@\""
                 sh $<TARGET_FILE:usguide> ${eval_scratch} ${eval_self_reqs})
set_tests_properties(eval_sim_self PROPERTIES TIMEOUT 120 LABELS "eval")

file(GLOB USG_EVAL_TRUTHS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sample_frames/*/truth.jsonl)
foreach(truth ${USG_EVAL_TRUTHS})
  get_filename_component(seq_dir ${truth} DIRECTORY)
  get_filename_component(seq ${seq_dir} NAME)
  add_test(NAME eval_truth_self_${seq}
           COMMAND $<TARGET_FILE:usguide> eval ${seq_dir} ${truth} ${eval_self_reqs})
  set_tests_properties(eval_truth_self_${seq} PROPERTIES TIMEOUT 60 LABELS "eval")
endforeach()
