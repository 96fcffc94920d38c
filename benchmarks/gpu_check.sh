#!/bin/bash
# The GPU checks of docs/benchmarks.md, "On a GPU", as one run with a time cap per part (a lent GPU machine
# has minutes, not hours): the suite's device-relevant tests on torch and JAX, measured planning against
# "direct" and "fft" (benchmarks/auto_vs_forced.py's workers, one per backend), and what measuring costs
# under `fit`, and whether odd FFT lengths are slow there. Every part writes under OUT (default ./gpu-check) as it goes, so a part cut by its cap
# still leaves what it did; tabulate the planning records afterwards, anywhere, with
#   python benchmarks/auto_vs_forced.py --records OUT/avf_torch.jsonl OUT/avf_jax.jsonl
# Run from the repository root, on a machine where `python3` has torch, jax (with CUDA), keras, pytest,
# pytest-xdist and pytest-timeout. The default caps add up to about 9 minutes.
set -u
OUT=${OUT:-gpu-check}
SEED=${SEED:-23}
POINTS=${POINTS:-14}
TESTS=${TESTS:-tests/tuning tests/ops tests/fft tests/complex tests/layers}
mkdir -p "$OUT"
T0=$(date +%s)
elapsed() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
export PYTHONPATH=$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
export STRUCTCONV_CACHE_DIR=${STRUCTCONV_CACHE_DIR:-$(mktemp -d)}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/env.txt" 2>&1
KERAS_BACKEND=torch python3 -c "import torch, jax, keras; print('torch', torch.__version__, 'jax', jax.__version__,
  jax.devices(), 'keras', keras.__version__)" >> "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
# Several test processes share the GPU: JAX must not take 75% of its memory in each.
for backend in torch jax; do
  cap=100; [ "$backend" = jax ] && cap=125
  XLA_PYTHON_CLIENT_PREALLOCATE=false KERAS_BACKEND=$backend JAX_ENABLE_X64=1 STRUCTCONV_AUTOTUNE=off \
    timeout -s INT -k 10 $cap python3 -m pytest -p no:cacheprovider -n 8 --dist worksteal -rfE --timeout 60 \
    $TESTS > "$OUT/tests_$backend.log" 2>&1
  elapsed "tests $backend: rc=$?"; tail -3 "$OUT/tests_$backend.log"
done
for backend in torch jax; do
  cap=90; [ "$backend" = jax ] && cap=120
  KERAS_BACKEND=$backend timeout -k 5 $cap python3 benchmarks/auto_vs_forced.py --worker "$backend" \
    --random "$POINTS" --seed "$SEED" --budget 0.5 > "$OUT/avf_$backend.jsonl" 2> "$OUT/avf_$backend.err"
  elapsed "auto_vs_forced $backend: rc=$?, $(wc -l < "$OUT/avf_$backend.jsonl") shapes"
done
# Whether cuFFT's real FFT is slower at odd lengths (`tuning.fft_lengths`: torch's MKL one ran them 2-4x
# slower per flop; the shipped CPU weight is what a GPU without a profile pads by).
for backend in torch jax; do
  KERAS_BACKEND=$backend timeout -k 5 30 python3 -c "from structconv.tuning import fft_lengths
print(fft_lengths.probe('gpu'))" > "$OUT/fft_lengths_$backend.txt" 2>&1
  elapsed "fft_lengths $backend: rc=$?"; tail -1 "$OUT/fft_lengths_$backend.txt"
done
timeout -k 5 100 python3 benchmarks/autotune_cost.py --backends torch,jax --epochs 3 --samples 256 \
  --json "$OUT/cost.json" > "$OUT/cost.txt" 2>&1
elapsed "autotune_cost: rc=$?"; tail -8 "$OUT/cost.txt"
python3 benchmarks/auto_vs_forced.py --records "$OUT"/avf_*.jsonl | tail -4
