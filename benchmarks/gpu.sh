#!/usr/bin/env bash
# The GPU measurements, in one script for a lent machine (about 8 minutes on one H200):
#   1. dense vs low-rank MLP populations on CUDA       (benchmarks/bench_lowrank.py; skipped if absent)
#   2. ResNet-18 populations, per-candidate loop vs vmap (benchmarks/bench_resnet.py)
#   3. benchmarks/cifar-gpu-smoke.yaml (suites/cifar.yaml reduced to a few minutes) and its report
# Every figure goes to $OUT (default: results/gpu-<UTC date>): nvidia-smi.txt, lowrank.json,
# resnet.json, cifar/ (the run files), cifar-report/ (report.md), and summary.txt (what each step
# did, its exit status and seconds). A step that fails or runs past its time limit is recorded and
# the next one runs; the script exits 1 if any step failed.
#
#   benchmarks/gpu.sh                 # on the GPU machine, from the repository root
#   benchmarks/gpu.sh --cpu-dry       # here: each step's smallest CPU version (under a minute), to check the script
#
# Environment: PY (the Python with dfo-bench installed; default .venv/bin/python, else python3),
# OUT, DFO_BENCH_DATA (CIFAR-10 for step 3; default shared/data or ../shared/data), THREADS (2).
set -euo pipefail

cd "$(dirname "$0")/.."
DRY=0
case "${1:-}" in
  --cpu-dry) DRY=1 ;;
  "") ;;
  *) echo "usage: benchmarks/gpu.sh [--cpu-dry]" >&2; exit 2 ;;
esac

if [[ -z "${PY:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT="${OUT:-results/gpu-$(date -u +%Y%m%dT%H%M%SZ)}"
THREADS="${THREADS:-2}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [[ -z "${DFO_BENCH_DATA:-}" ]]; then
  for candidate in shared/data ../shared/data; do
    if [[ -d "$candidate" ]]; then DFO_BENCH_DATA="$(cd "$candidate" && pwd)"; break; fi
  done
fi
export DFO_BENCH_DATA="${DFO_BENCH_DATA:-}"

SUMMARY="$OUT/summary.txt"
FAILED=0
say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LIMIT_SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log, never abort the script.
step() {
  local name="$1" limit="$2"
  shift 2
  local started=$SECONDS rc=0
  echo "== $name (limit ${limit} s): $*"
  timeout --kill-after=10 "$limit" "$@" > >(tee "$OUT/$name.log") 2>&1 || rc=$?
  local took=$((SECONDS - started))
  if [[ $rc -eq 0 ]]; then
    say "$name: ok in ${took} s"
  else
    FAILED=1
    [[ $rc -eq 124 || $rc -eq 137 ]] && say "$name: TIMED OUT after ${took} s (limit ${limit} s)" || say "$name: FAILED (exit $rc) after ${took} s"
  fi
}

say "dfo-bench GPU measurements, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), out $OUT"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi | tee "$OUT/nvidia-smi.txt"
else
  say "nvidia-smi: not found"
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" | tee -a "$SUMMARY"
if [[ $DRY -eq 0 ]] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  say "torch sees no CUDA device: nothing measured (use --cpu-dry to check the script on a CPU)"
  exit 1
fi

# 1. Dense vs low-rank MLP populations (the eggroll work's bench).
if [[ $DRY -eq 1 ]]; then
  step lowrank 120 "$PY" benchmarks/bench_lowrank.py --device cpu --populations 8 --repeats 1 --no-compile --no-resnet --json "$OUT/lowrank.json"
else
  step lowrank 90 "$PY" benchmarks/bench_lowrank.py --device cuda --populations 64 256 1024 4096 --data-root "$DFO_BENCH_DATA/mnist" --json "$OUT/lowrank.json"
fi

# 2. ResNet-18 populations, loop vs vmap (the device torch picks: CUDA here).
# Time limits add up to 450 s (7.5 minutes) with nvidia-smi and the checks before them.
if [[ $DRY -eq 1 ]]; then
  step resnet 180 "$PY" benchmarks/bench_resnet.py --width 0.125 --batch 64 --chunk 64 --populations 2 --repeats 1 --threads "$THREADS" --json "$OUT/resnet.json"
else
  step resnet 110 "$PY" benchmarks/bench_resnet.py --populations 8 32 --json "$OUT/resnet.json"
fi

# 3. The reduced CIFAR-10 suite and its report.
SUITE=benchmarks/cifar-gpu-smoke.yaml  # one seed: a benchmark input, not a shipped suite (those have >= 3)
if [[ $DRY -eq 1 ]]; then  # a full-width ResNet does not fit a CPU check: validate the suite only
  step cifar-suite 60 "$PY" -c "from dfo_bench.suite import load_suite; s = load_suite('$SUITE'); print(len(s.runs), 'runs valid')"
elif [[ -z "$DFO_BENCH_DATA" ]]; then
  FAILED=1
  say "cifar: SKIPPED: no data folder (set DFO_BENCH_DATA to the folder holding cifar-10-batches-py or cifar10-jpg.tar.gz)"
else
  step cifar-run 210 "$PY" -m dfo_bench run "$SUITE" --out "$OUT/cifar" --sequential --quiet
  step cifar-report 40 "$PY" -m dfo_bench report "$OUT/cifar" --out "$OUT/cifar-report" --format markdown
fi

say "total ${SECONDS} s; figures in $OUT"
exit $FAILED
