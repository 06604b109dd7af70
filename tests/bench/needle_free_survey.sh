#!/bin/sh
# needle_free_survey.sh USGUIDE [OUTDIR] - false needles over many needle-free
# sequences: `usguide sim --needle none` for every seed FROM..TO (default
# 1000..1319), FRAMES frames each (default 4), every fourth one linear (the
# rest curvilinear), every fifth a tissue block and every seventh a water bath
# (the rest over the joint); each is replayed and the frames on which a needle
# was reported are counted. Prints one line per sequence with a false needle,
#   seed S GEOMETRY MEDIUM fp N/FRAMES
# then the total:
#   survey: K of M needle-free sequences with a false needle (F of T frames)
# SIM_OPTS adds `usguide sim` options to every sequence (e.g. "--dynamic-range-db 40
# --jitter-mm 3": a narrow display range, the tissue below its floor, and a probe that moves).
# Sequences are kept in OUTDIR/sS (default ${TMPDIR:-/tmp}/needle_free_survey)
# and regenerated when missing or made with other options. Exit status 0 (a survey, not a gate:
# tests/bench/fibre_cases.txt holds the sequences it found).
set -eu
bin=${1:?usage: needle_free_survey.sh USGUIDE [OUTDIR]}
out=${2:-${TMPDIR:-/tmp}/needle_free_survey}
from=${FROM:-1000}
to=${TO:-1319}
frames=${FRAMES:-4}
mkdir -p "$out"
seqs=0 bad=0 fp_frames=0
for s in $(seq "$from" "$to"); do
    geo=curvilinear
    [ $((s % 4)) = 1 ] && geo=linear
    med=sij
    [ $((s % 5)) = 2 ] && med=tissue
    [ $((s % 7)) = 3 ] && med=water
    d=$out/s$s
    opts="--frames $frames --geometry $geo --medium $med ${SIM_OPTS:-}"
    if [ ! -f "$d/truth.jsonl" ] || [ "$(cat "$d/sim_opts" 2>/dev/null)" != "$opts" ]; then
        rm -rf "$d"
        # shellcheck disable=SC2086 # (the options split into words)
        "$bin" sim "$d" --seed "$s" --needle none $opts --quiet
        printf '%s\n' "$opts" > "$d/sim_opts"
    fi
    "$bin" replay "$d/frames" --probe "$d/probe.ini" --results "$d/results.jsonl" --quiet >/dev/null 2>&1
    n=$(grep -c '"needle": {"found": true' "$d/results.jsonl" || true)
    seqs=$((seqs + 1))
    if [ "$n" != 0 ]; then
        bad=$((bad + 1))
        fp_frames=$((fp_frames + n))
        echo "seed $s $geo $med fp $n/$frames"
    fi
done
echo "survey: $bad of $seqs needle-free sequences with a false needle ($fp_frames of $((seqs * frames)) frames)"
