# needle.cmake - needle accuracy gates (issue 6): every sample sequence in
# sample_frames/*/ is replayed and scored with `usguide eval --require`.
# Sequences with a needle: recall >= 0.98, false positives <= 1 %, tip error
# median <= 0.5 mm / p95 <= 1.5 mm, axis angle error median <= 1 / p95 <= 2.5 deg.
# Needle-free sequences: no needle reported on any frame.
file(GLOB USG_NEEDLE_TRUTHS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sample_frames/*/truth.jsonl)
foreach(truth ${USG_NEEDLE_TRUTHS})
  get_filename_component(seq_dir ${truth} DIRECTORY)
  get_filename_component(seq ${seq_dir} NAME)
  set(results ${CMAKE_CURRENT_BINARY_DIR}/tmp/needle_${seq}.jsonl)
  file(READ ${truth} truth_text)
  string(REGEX MATCH "\"needle\": *{\"found\": *true" has_needle "${truth_text}")
  if(has_needle)
    set(reqs --require "needle_recall>=0.98" --require "needle_fp_rate<=0.01"
             --require "tip_err_median_mm<=0.5" --require "tip_err_p95_mm<=1.5"
             --require "angle_err_median_deg<=1.0" --require "angle_err_p95_deg<=2.5")
  else()
    set(reqs --require "needle_fp_rate<=0")
  endif()
  add_test(NAME needle_accuracy_${seq}
           COMMAND sh -c "b=\"$1\" d=\"$2\" r=\"$3\"; shift 3; \"$b\" replay \"$d\" --quiet --results \"$r\" && \"$b\" eval \"$d/truth.jsonl\" \"$r\" \"$@\""
                   sh $<TARGET_FILE:usguide> ${seq_dir} ${results} ${reqs})
  set_tests_properties(needle_accuracy_${seq} PROPERTIES TIMEOUT 600 LABELS "accuracy;needle")
endforeach()

# Needle stage latency is a benchmark, not a test: tests/needle_latency.sh
# USGUIDE SEQUENCE [MAX_MS] prints the tracking and acquisition medians.
