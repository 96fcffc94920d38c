"""Eager calls on JAX: one compiled program per plan (the backend tier's `staged`) against op by op.

    .venv/bin/python benchmarks/eager_jax.py [--repeats 20]

Outside `jax.jit`, JAX compiles each primitive for each new shape; structconv's JAX backend runs an op's
executor as one `jax.jit` program per plan instead. For FFT convolutions of ranks 1-4 and a direct rank-4
one (decomposed onto rank 2), each mode in a fresh process (first calls compile): the first call's seconds
and the median of the next `--repeats` calls. "op by op" replaces `staged` by a plain call, as before it
existed. XLA's optimisations are on, as in users' programs.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import machine  # noqa: E402

CASES = (("fft", 1), ("fft", 2), ("fft", 3), ("fft", 4), ("direct", 4))
MODES = ("op by op", "staged")


def worker(mode, repeats):
    import keras
    import numpy as np

    from structconv import ops
    from structconv._backend import get_backend

    if mode == "op by op":
        get_backend().staged = lambda function, static, *tensors: function(*static, *tensors)
    rng = np.random.default_rng(0)
    for algorithm, rank in CASES:
        x = keras.ops.convert_to_tensor(rng.standard_normal((2, *(9,) * rank, 3)).astype("float32"))
        k = keras.ops.convert_to_tensor(rng.standard_normal((*(3,) * rank, 3, 4)).astype("float32"))
        start = time.perf_counter()
        ops.conv(x, k, padding="same", algorithm=algorithm).block_until_ready()
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ops.conv(x, k, padding="same", algorithm=algorithm).block_until_ready()
            times.append(time.perf_counter() - start)
        print(f"{algorithm}\t{rank}\t{first}\t{float(np.median(times))}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.repeats)
        return
    environment = dict(os.environ, KERAS_BACKEND="jax", STRUCTCONV_AUTOTUNE="off")
    results = {}
    for mode in MODES:
        done = subprocess.run([sys.executable, __file__, "--worker", mode, "--repeats", str(args.repeats)],
                              env=environment, capture_output=True, text=True, check=True)
        for line in done.stdout.splitlines():
            algorithm, rank, first, then = line.split("\t")
            results[(algorithm, int(rank), mode)] = (float(first), float(then))
    print(f"Machine: {machine()}\n")
    print("| case | first call, op by op | first call, staged | later calls, op by op "
          "| later calls, staged |")
    print("|---|---|---|---|---|")
    for algorithm, rank in CASES:
        (first_a, then_a), (first_b, then_b) = (results[(algorithm, rank, mode)] for mode in MODES)
        print(f"| {algorithm} rank {rank}, 9^{rank} x 3 -> 4, k=3 | {first_a:.2f} s | {first_b:.2f} s "
              f"| {then_a * 1e3:.2f} ms | {then_b * 1e3:.2f} ms |")


if __name__ == "__main__":
    main()
