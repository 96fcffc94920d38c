"""Eager calls on JAX and TensorFlow: one compiled program per plan (the backend tier's `staged`) against op
by op, and against the same call inside the backend's compiled function; then "auto" called eagerly against
"direct" and "fft".

    .venv/bin/python benchmarks/eager.py [--repeats 20] [--backends jax,tensorflow,torch]

Outside `jax.jit`, JAX compiles each primitive for each new shape; outside a `tf.function`, TensorFlow runs
each op through its eager dispatch. structconv's backends run an op's executor as one program per plan and
input signature instead (`jax.jit`, `tf.function`). For FFT convolutions of ranks 1-4 and a direct rank-4
one (decomposed), each mode in a fresh process (first calls compile or trace): the first call's seconds and
the median of the next `--repeats` calls. "op by op" replaces `staged` by a plain call, as before it
existed; "compiled" calls the op inside `jax.jit` / `tf.function`, the form measured planning times
(`compile_for_timing`), so "staged" near "compiled" means an eager caller gets what planning measured.
XLA's and Grappler's optimisations are on, as in users' programs. Measuring is off (`STRUCTCONV_AUTOTUNE`),
so every mode runs the same plans.

The second table asks issue 13's question of eager callers (a layer called outside `fit`, `ops.conv` in a
script): "auto" (measuring on, plan files bypassed), "direct" and "fft" each called eagerly on `AUTO_CASES`
(ranks 1-4, 1-8 channels, forward), each the 25th percentile of `--repeats` calls in interleaved rounds
after two warm-up calls (the first measures), and auto / the faster of the two.
"""

import argparse
import functools
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import interleaved_times, machine, measure_afresh  # noqa: E402

CASES = (("fft", 1), ("fft", 2), ("fft", 3), ("fft", 4), ("direct", 4))
MODES = ("op by op", "staged", "compiled")
STAGED = ("jax", "tensorflow")  # the backends whose `staged` compiles an eager call
# (rank, size, kernel size, batch, channels, filters), padding "same", float32, channels_last.
AUTO_CASES = ((1, 2000, 31, 1, 1, 1), (1, 8000, 63, 2, 4, 4), (2, 48, 11, 1, 2, 2), (2, 96, 13, 2, 4, 4),
              (3, 16, 7, 1, 1, 2), (3, 24, 9, 2, 4, 4), (4, 8, 4, 1, 2, 2), (4, 10, 3, 2, 8, 8))
ALGORITHMS = ("auto", "direct", "fft")


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


def _eager_call(x, w, algorithm):
    """`ops.conv` of `x` and `w` by `algorithm`, called eagerly, its result waited for."""
    import keras

    from structconv import ops

    keras.ops.convert_to_numpy(ops.conv(x, w, padding="same", algorithm=algorithm))


def auto_worker(repeats):
    """Tab-separated lines: the case's index and each algorithm's 25th-percentile eager call in seconds."""
    import keras
    import numpy as np

    measure_afresh()
    rng = np.random.default_rng(0)
    for index, (rank, size, k, batch, channels, filters) in enumerate(AUTO_CASES):
        x = rng.standard_normal((batch, *(size,) * rank, channels)).astype("float32")
        w = rng.standard_normal((*(k,) * rank, channels, filters)).astype("float32")
        x, w = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(w)
        runs = {algorithm: functools.partial(_eager_call, x, w, algorithm) for algorithm in ALGORITHMS}
        # Two warm-up calls each ("auto" measures in its first), then interleaved rounds.
        samples = interleaved_times(runs, repeats)
        quantiles = [sorted(samples[a])[len(samples[a]) // 4] for a in ALGORITHMS]
        print("\t".join(map(str, [index, *quantiles])), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--worker", choices=(*MODES, "auto"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "auto":
        auto_worker(args.repeats)
        return
    if args.worker:
        worker(args.worker, args.repeats)
        return
    print(f"Machine: {machine()}\n")
    backends = args.backends.split(",")
    for backend in [b for b in backends if b in STAGED]:  # torch runs eagerly: nothing to stage
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
    print("\"auto\" called eagerly against \"direct\" and \"fft\" (measuring on; ms):\n")
    print("| case | backend | auto | direct | fft | auto / faster |")
    print("|---|---|---:|---:|---:|---:|")
    for backend in backends:
        environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        environment.pop("STRUCTCONV_AUTOTUNE", None)
        command = [sys.executable, __file__, "--worker", "auto", "--repeats", str(args.repeats)]
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
        for line in done.stdout.splitlines():
            index, *seconds = line.split("\t")
            rank, size, k, batch, channels, filters = AUTO_CASES[int(index)]
            auto, direct, fft = (float(value) * 1e3 for value in seconds)
            case = f"{rank}-D {size}^{rank}, k={k}, {batch} x {channels} -> {filters}"
            print(f"| {case} | {backend} | {auto:.2f} | {direct:.2f} | {fft:.2f} "
                  f"| {auto / min(direct, fft):.2f} |")


if __name__ == "__main__":
    main()
