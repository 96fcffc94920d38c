"""What structconv adds to a small eager convolution: `structconv.ops.conv` ("auto" and "direct") against
`keras.ops.conv` on the same tensors, per call, on every backend.

    .venv/bin/python benchmarks/eager_overhead.py [--quick] [--rounds 9] [--backends jax,tensorflow,torch]

A loop of eager calls on small shapes (a script, a custom training loop's layer outside `jit`) pays for
every line of Python around the convolution: the argument checks, the problem and its plan, the staging.
Each case times `CALLS` calls in a row per sample (JAX waits for each result: `block_until_ready`), in
interleaved rounds; the table gives microseconds per call (the median sample) and the ratio to
`keras.ops.conv`. Measured planning is on as by default ("auto" measures in its warm-up calls where the
model is unsure) without plan files (`measure_afresh`). Shapes: padding "same", float32, channels_last.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import machine, measure_afresh, medians_and_minima, run_worker_process, versions  # noqa: E402

# (rank, size, kernel size, batch, channels, filters)
CASES = ((1, 64, 3, 2, 4, 4), (1, 256, 9, 1, 1, 1), (1, 512, 5, 8, 16, 16), (2, 16, 3, 2, 4, 4),
         (2, 32, 3, 8, 16, 16), (2, 28, 5, 1, 1, 8), (3, 8, 3, 1, 2, 2), (3, 12, 3, 2, 8, 8))
QUICK_CASES = CASES[:1] + CASES[3:4]
CALLS = 200
IMPLS = ("keras.ops.conv", "structconv auto", "structconv direct")


def worker(cases, rounds):
    import keras
    import numpy as np

    from structconv import ops

    measure_afresh()
    jax = keras.backend.backend() == "jax"
    rng = np.random.default_rng(0)
    records = []
    for rank, size, kernel_size, batch, channels, filters in cases:
        x = keras.ops.convert_to_tensor(rng.standard_normal((batch, *(size,) * rank, channels)), "float32")
        k = keras.ops.convert_to_tensor(rng.standard_normal((*(kernel_size,) * rank, channels, filters)),
                                        "float32")
        calls = {"keras.ops.conv": lambda x=x, k=k: keras.ops.conv(x, k, padding="same"),
                 "structconv auto": lambda x=x, k=k: ops.conv(x, k, padding="same"),
                 "structconv direct": lambda x=x, k=k: ops.conv(x, k, padding="same", algorithm="direct")}

        def looped(call):
            def run():
                for _ in range(CALLS):
                    y = call()
                    if jax:
                        y.block_until_ready()
            return run

        medians, _ = medians_and_minima({name: looped(call) for name, call in calls.items()}, rounds)
        us = {name: medians[name] / CALLS * 1e6 for name in IMPLS}
        case = f"{rank}-D {size}^{rank}, k={kernel_size}, {batch} x {channels} -> {filters}"
        print(f"{case}: " + ", ".join(f"{n} {t:.1f} us" for n, t in us.items()), file=sys.stderr, flush=True)
        records.append({"backend": keras.backend.backend(), "case": case,
                        "us": {name: round(t, 1) for name, t in us.items()}})
    for record in records:
        print(json.dumps(record))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    cases = QUICK_CASES if options.quick else CASES
    if options.worker:
        worker(cases, options.rounds)
        return
    arguments = ["--rounds", str(options.rounds)] + (["--quick"] if options.quick else [])
    print(f"Machine: {machine()}; {versions(('keras', 'jax', 'tensorflow', 'torch'))}")
    print("\n| backend | case | keras.ops.conv us | structconv auto us (ratio) | "
          "structconv direct us (ratio) |")
    print("|---|---|---|---|---|")
    for backend in options.backends.split(","):
        records, _ = run_worker_process(__file__, backend, arguments, timeout=1800)
        for r in records:
            base = r["us"]["keras.ops.conv"]
            auto, direct = r["us"]["structconv auto"], r["us"]["structconv direct"]
            print(f"| {backend} | {r['case']} | {base:.1f} | {auto:.1f} ({auto / base:.2f}x) | "
                  f"{direct:.1f} ({direct / base:.2f}x) |", flush=True)


if __name__ == "__main__":
    main()
