"""TensorFlow: structconv's slices (`slice_window`: `tf.slice`, steps by regrouping an axis) against strided
slices (`x[index]`, what structconv ran before session 37), on the plans that slice big tensors.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/tensorflow_slices.py [--threads 2]
        [--budget 1.5] [--json PATH]

Each shape's plan (the N-D decomposition's two stackings, strided or not; FFT in overlap-save blocks) is
compiled twice as measured planning compiles it (`compile_for_timing`: a `tf.function`, with the gradient
w.r.t. input and kernel for a training step): once with the backend tier's `slice_window` as shipped, once
with it replaced by plain strided slicing while the function is traced. The two are timed in interleaved
rounds (the order rotating) for `--budget` seconds, at least 5 rounds; the table gives each one's fastest
call and strided / shipped (above 1: the shipped slices are faster). `TF_ENABLE_ONEDNN_OPTS=0` runs
TensorFlow's Eigen kernels (the default on CPUs without AVX-512).
"""

import argparse
import json
import os
import sys

from environment import budgeted_times, machine, versions  # noqa: E402  (this folder is on sys.path)

# (rank, size, kernel size, batch, channels, filters, stride, training, plan label)
SHAPES = [
    (4, 15, 3, 2, 8, 8, 1, True, "direct:inputs"),
    (4, 15, 3, 2, 8, 8, 1, True, "direct:filters"),
    (4, 20, 2, 2, 8, 8, 1, True, "direct:inputs"),
    (4, 20, 2, 2, 8, 8, 1, True, "direct:filters"),
    (4, 16, 3, 2, 8, 8, 1, False, "direct:inputs"),
    (4, 24, 3, 2, 8, 8, 2, False, "direct:inputs"),
    (4, 24, 3, 2, 8, 8, 2, False, "direct:filters"),
    (4, 24, 3, 2, 8, 8, 2, True, "direct:inputs"),
    (5, 10, 3, 1, 4, 4, 1, True, "direct:inputs"),
    (1, 16384, 63, 2, 8, 8, 1, True, "fft:8:fft:matmul"),
    (2, 128, 15, 2, 8, 8, 1, True, "fft:4:dft:matmul"),
    (3, 48, 7, 2, 4, 4, 2, True, "fft:2:dft:matmul"),
]


def strided(x, index):
    return x[index]


def run(shape, threads, budget):
    import dataclasses

    from structconv._backend import get_backend
    from structconv.ops import candidate_plans
    from structconv.ops.execute import execute
    from structconv.tuning import autotune, fingerprint
    from structconv.tuning import profile as profiles
    from structconv.tuning.square_problem import square_problem

    rank, size, k, batch, channels, filters, stride, training, label = shape
    problem = square_problem("tensorflow", "cpu", rank, size, k, batch, channels, filters, stride=stride,
                             training=training)
    shipped = profiles.shipped_for(fingerprint.fingerprint("tensorflow", "cpu"))
    unlimited = dataclasses.replace(shipped, strategy=dataclasses.replace(
        shipped.strategy, decompose_filters_max_taps=None))
    plan = next(p for p in candidate_plans.candidates(problem, unlimited) if p.label == label)
    arrays = autotune.problem_arrays(problem)
    backend = get_backend()
    runs = {}
    for name, window in (("shipped", backend.slice_window), ("strided", strided)):
        kept = backend.slice_window
        backend.slice_window = window
        try:
            runs[name] = backend.compile_for_timing(lambda x, w: execute(plan, problem, x, w), arrays,
                                                    training, "cpu")
            runs[name]()  # traced (with this slice) on its first call
        finally:
            backend.slice_window = kept
        runs[name]()
    times, rounds = budgeted_times(runs, budget)
    best = {name: min(found) * 1e3 for name, found in times.items()}
    return {"rank": rank, "size": size, "k": k, "batch": batch, "channels": channels, "filters": filters,
            "stride": stride, "training": training, "plan": label, "ms": best, "rounds": rounds,
            "ratio": best["strided"] / best["shipped"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of timed rounds per shape")
    parser.add_argument("--json", help="also write the records as JSON")
    options = parser.parse_args()
    os.environ["KERAS_BACKEND"] = "tensorflow"  # before Keras is imported
    from structconv.tuning.threads import limit_threads

    limit_threads(options.threads)
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    found = ", ".join(f"{name} {version}" for name, version
                      in versions(["tensorflow-cpu", "tensorflow", "keras"]).items())
    print(f"{machine()}; {found}; {options.threads} thread(s), "
          f"TF_ENABLE_ONEDNN_OPTS={onednn}\n")
    print("| shape | step | plan | strided slices ms | structconv's ms | strided / structconv |")
    print("|---|---|---|---:|---:|---:|")
    records = []
    for shape in SHAPES:
        r = run(shape, options.threads, options.budget)
        records.append(r)
        print(f"| {r['rank']}-D {r['size']}^{r['rank']} k={r['k']} B={r['batch']} {r['channels']}->"
              f"{r['filters']}{' stride ' + str(r['stride']) if r['stride'] > 1 else ''} | "
              f"{'training' if r['training'] else 'forward'} | {r['plan']} | {r['ms']['strided']:.2f} | "
              f"{r['ms']['shipped']:.2f} | {r['ratio']:.2f} |", flush=True)
    ratios = [r["ratio"] for r in records]
    print(f"\nstrided / structconv: {min(ratios):.2f}-{max(ratios):.2f}x. Command: `{' '.join(sys.argv)}`.")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"machine": machine(), "threads": options.threads, "onednn": onednn,
                       "records": records}, handle)


if __name__ == "__main__":
    main()
