"""Eager calls on JAX and TensorFlow: one compiled program per plan (the backend tier's `staged`) against op
by op, and against the same call inside the backend's compiled function.

    .venv/bin/python benchmarks/eager.py [--repeats 20] [--backends jax,tensorflow]

Outside `jax.jit`, JAX compiles each primitive for each new shape; outside a `tf.function`, TensorFlow runs
each op through its eager dispatch. structconv's backends run an op's executor as one program per plan and
input signature instead (`jax.jit`, `tf.function`). For FFT convolutions of ranks 1-4 and a direct rank-4
one (decomposed), each mode in a fresh process (first calls compile or trace): the first call's seconds and
the median of the next `--repeats` calls. "op by op" replaces `staged` by a plain call, as before it
existed; "compiled" calls the op inside `jax.jit` / `tf.function`, the form measured planning times
(`compile_for_timing`), so "staged" near "compiled" means an eager caller gets what planning measured.
XLA's and Grappler's optimisations are on, as in users' programs. Measuring is off (`STRUCTCONV_AUTOTUNE`),
so every mode runs the same plans.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import machine  # noqa: E402

CASES = (("fft", 1), ("fft", 2), ("fft", 3), ("fft", 4), ("direct", 4))
MODES = ("op by op", "staged", "compiled")


def worker(mode, repeats):
    import keras
    import numpy as np

    from structconv import ops
    from structconv._backend import get_backend

    backend = keras.backend.backend()
    if mode == "op by op":
        get_backend().staged = lambda function, static, *tensors: function(*static, *tensors)
    rng = np.random.default_rng(0)
    for algorithm, rank in CASES:
        x = keras.ops.convert_to_tensor(rng.standard_normal((2, *(9,) * rank, 3)).astype("float32"))
        k = keras.ops.convert_to_tensor(rng.standard_normal((*(3,) * rank, 3, 4)).astype("float32"))

        def call(x, k, algorithm=algorithm):
            return ops.conv(x, k, padding="same", algorithm=algorithm)

        if mode == "compiled":
            if backend == "jax":
                import jax

                call = jax.jit(call)
            else:
                import tensorflow as tf

                call = tf.function(call)

        def run(call=call, x=x, k=k):
            y = call(x, k)
            return y.block_until_ready() if backend == "jax" else y.numpy()

        start = time.perf_counter()
        run()
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        print(f"{algorithm}\t{rank}\t{first}\t{float(np.median(times))}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--backends", default="jax,tensorflow")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.repeats)
        return
    print(f"Machine: {machine()}\n")
    for backend in args.backends.split(","):
        environment = dict(os.environ, KERAS_BACKEND=backend, STRUCTCONV_AUTOTUNE="off",
                           TF_CPP_MIN_LOG_LEVEL="3")
        results = {}
        for mode in MODES:
            command = [sys.executable, __file__, "--worker", mode, "--repeats", str(args.repeats)]
            done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
            for line in done.stdout.splitlines():
                algorithm, rank, first, then = line.split("\t")
                results[(algorithm, int(rank), mode)] = (float(first), float(then))
        print(f"{backend}:\n")
        print("| case | first call: op by op / staged / compiled "
              "| later calls: op by op / staged / compiled |")
        print("|---|---|---|")
        for algorithm, rank in CASES:
            runs = [results[(algorithm, rank, mode)] for mode in MODES]
            firsts = " / ".join(f"{first:.2f}" for first, _ in runs)
            laters = " / ".join(f"{then * 1e3:.2f}" for _, then in runs)
            print(f"| {algorithm} rank {rank}, 9^{rank} x 3 -> 4, k=3 | {firsts} s | {laters} ms |")
        print()


if __name__ == "__main__":
    main()
