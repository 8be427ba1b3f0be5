#!/usr/bin/env bash
# Every benchmark behind docs/benchmarks.md, one after the other (run alone on the machine: hours).
# Resumable: rerun the same command and finished records are skipped.
#   bash benchmarks/run_all.sh ../shared/data/dip-paper [--paper-full]
# Touch $PAUSE (default /tmp/napari-dip-bench.pause) to hold the queue between records, e.g. to run
# the tests without distorting a timing; remove it to go on.
set -euo pipefail
DATA=$(cd "${1:?usage: run_all.sh DATA_FOLDER [--paper-full]}" && pwd)
cd "$(dirname "$0")/.."  # the repository root: the scripts' default output paths start there
PAUSE=${PAUSE:-/tmp/napari-dip-bench.pause}
run() {  # a failed record is reported by run.py and does not hold up the queue
  python benchmarks/run.py "$@" --data "$DATA" --pause-file "$PAUSE" || echo "[queue] run.py $* exited $?"
}

# the paper recipe's cost per iteration, measured beside the fast preset (one image per size)
run denoise-sigma25 --preset paper --max-iterations 30 --no-baselines --images hill,F16,kodim01
run inpaint-50pct --preset paper --max-iterations 30 --no-baselines --images Cameraman256,Lena512
run sr-x4-set5 --preset paper --max-iterations 30 --no-baselines
run text-inpainting --preset paper --max-iterations 30 --no-baselines
# the fast preset on every set, with the classical baselines
run denoise-sigma25 --preset fast
run inpaint-50pct --preset fast
run sr-x4-set5 --preset fast
run text-inpainting --preset fast
run deblur-gauss2 --preset paper --max-iterations 30 --no-baselines --images hill,F16,kodim01
run deblur-gauss2 --preset fast
run fusion-multifocus --preset fast
python benchmarks/microbench.py
python benchmarks/scale_widths.py
python benchmarks/timelapse.py
python benchmarks/tiling.py memory
python benchmarks/tiling.py seams
if [ "${2:-}" = "--paper-full" ]; then  # the original recipe to the end on F16: about 4 hours
  run denoise-sigma25 --preset paper --no-baselines --images F16
fi
python benchmarks/report.py
