#!/bin/sh
# Regenerate the bundled sample sequences bit-identically with `usguide sim`.
# usage: sample_frames/make_samples.sh [USGUIDE [OUTDIR [NAME...]]]
#   USGUIDE  the usguide binary (default: $USGUIDE, else build/usguide beside this folder)
#   OUTDIR   where to write (default: this folder)
#   NAME...  only these sequences (default: all)
# Each sequence is written to OUTDIR/<name>/{frames/NNNN.png,truth.jsonl,probe.ini}.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${USGUIDE:-$here/../build/usguide}}
out=${2:-$here}
[ $# -gt 2 ] && shift 2 || set --
only="$*"
if [ ! -x "$bin" ]; then
    echo "make_samples.sh: usguide not found at '$bin' (pass its path)" >&2
    exit 2
fi
mkdir -p "$out"

sim() {
    name=$1
    shift
    if [ -n "$only" ]; then
        case " $only " in *" $name "*) ;; *) return 0 ;; esac
    fi
    rm -rf "${out:?}/$name"
    "$bin" sim "$out/$name" --quiet "$@"
    echo "$name: $(ls "$out/$name/frames" | wc -l) frames, $(du -sk "$out/$name" | cut -f1) KB"
}

# curvilinear, needle from the lateral (iliac) side at 30 deg, sacrum on the left
sim curv_lateral      --seed 101 --frames 30 --geometry curvilinear --width 640 --height 480 --spacing-mm 0.2 \
                      --needle lateral --needle-angle-deg 30 --medial-side left
# linear, shallower anatomy, needle from the medial (sacral) side at 25 deg, sacrum on the right
sim linear_medial     --seed 202 --frames 30 --geometry linear --width 512 --height 384 --spacing-mm 0.1 \
                      --needle medial --needle-angle-deg 25 --medial-side right
# no needle at all (bone and target only)
sim curv_no_needle    --seed 303 --frames 30 --geometry curvilinear --width 640 --height 480 --spacing-mm 0.22 \
                      --needle none --medial-side right
# low gain, small dynamic range, strong frame-to-frame decorrelation: heavy speckle
sim curv_lowgain_speckle --seed 404 --frames 30 --geometry curvilinear --width 512 --height 384 --spacing-mm 0.25 \
                      --needle lateral --needle-angle-deg 20 --gain-db -8 --freq-mhz 2.5 --decorrelation 0.5
# steep (50 deg) and therefore faint needle
sim curv_steep_faint  --seed 505 --frames 30 --geometry curvilinear --width 640 --height 480 --spacing-mm 0.2 \
                      --needle lateral --needle-angle-deg 50 --medial-side right
# grabbed screen: the image inside a scanner UI frame (probe.ini has clip =)
sim curv_frame_ui     --seed 606 --frames 30 --geometry curvilinear --width 640 --height 480 --spacing-mm 0.2 \
                      --needle medial --needle-angle-deg 35 --frame-ui
# linear, shallow 15 deg needle aimed 3 mm beside the joint entry (a deliberate miss)
sim linear_shallow_miss --seed 707 --frames 30 --geometry linear --width 480 --height 360 --spacing-mm 0.12 \
                      --needle lateral --needle-angle-deg 15 --needle-miss-mm 3 --medial-side left
# deep curvilinear view (11 cm), joint entry at 55 mm, medial needle at 40 deg
sim curv_deep_medial  --seed 808 --frames 30 --geometry curvilinear --width 512 --height 384 --spacing-mm 0.3 \
                      --needle medial --needle-angle-deg 40 --target-depth-mm 55

echo "total: $(du -sk "$out" | cut -f1) KB"
