"""structconv's slices of the backend tier against plain indexing, on the plans that slice big tensors:
TensorFlow's `slice_window` (`tf.slice`, a step by regrouping an axis) against strided slices (`x[index]`,
what structconv ran before session 37); torch's `slice_windows` (the windows' gradient gathered in one
buffer) against one `x[index]` per window, each with its own gradient (before session 38).

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/slices.py [--backend tensorflow|torch]
        [--threads 2] [--budget 1.5] [--json PATH]

Each shape's plan (the N-D decomposition's two stackings, strided or not; on TensorFlow FFT in overlap-save
blocks too) is compiled twice as measured planning compiles it (`compile_for_timing`: a `tf.function`, eager
torch; with the gradient w.r.t. input and kernel for a training step): once with the backend tier's
function as shipped, once with plain indexing in its place while it runs (TensorFlow: while it is traced).
The two are timed in interleaved rounds (the order rotating) for `--budget` seconds, at least 5 rounds; the
table gives each one's fastest call and plain / structconv (above 1: the shipped slices are faster).
`TF_ENABLE_ONEDNN_OPTS=0` runs TensorFlow's Eigen kernels (the default on CPUs without AVX-512).
"""

import argparse
import json
import os
import sys

from environment import budgeted_times, machine, versions  # noqa: E402  (this folder is on sys.path)

# (rank, size, kernel size, batch, channels, filters, stride, training, plan label)
TENSORFLOW_SHAPES = [
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
# torch's windows matter where their gradient is taken: training steps of the decomposition.
TORCH_SHAPES = [
    (4, 15, 3, 2, 8, 8, 1, True, "direct:inputs"),
    (4, 15, 3, 2, 8, 8, 1, True, "direct:filters"),
    (4, 12, 3, 2, 16, 16, 1, True, "direct:filters"),
    (4, 16, 3, 4, 4, 4, 1, True, "direct:filters"),
    (4, 10, 5, 2, 8, 8, 1, True, "direct:inputs"),
    (4, 24, 3, 2, 8, 8, 2, True, "direct:inputs"),
    (4, 24, 3, 2, 8, 8, 2, True, "direct:filters"),
    (5, 8, 3, 1, 4, 4, 1, True, "direct:inputs"),
    (4, 16, 3, 2, 8, 8, 1, False, "direct:filters"),
]


def strided(x, index):
    return x[index]


def one_by_one(x, indices):
    return [x[index] for index in indices]


# backend: (the backend tier's function replaced, plain indexing in its place, shapes)
VARIANTS = {"tensorflow": ("slice_window", strided, TENSORFLOW_SHAPES),
            "torch": ("slice_windows", one_by_one, TORCH_SHAPES)}


def swapped(backend, name, function, run):
    """`run` with the backend tier's `name` replaced by `function` while it runs."""
    def call():
        kept = getattr(backend, name)
        setattr(backend, name, function)
        try:
            return run()
        finally:
            setattr(backend, name, kept)
    return call


def run(backend_name, shape, budget):
    import dataclasses

    from structconv._backend import get_backend
    from structconv.ops import candidate_plans
    from structconv.ops.execute import execute
    from structconv.tuning import autotune, fingerprint
    from structconv.tuning import profile as profiles
    from structconv.tuning.square_problem import square_problem

    rank, size, k, batch, channels, filters, stride, training, label = shape
    problem = square_problem(backend_name, "cpu", rank, size, k, batch, channels, filters, stride=stride,
                             training=training)
    shipped = profiles.shipped_for(fingerprint.fingerprint(backend_name, "cpu"))
    unlimited = dataclasses.replace(shipped, strategy=dataclasses.replace(
        shipped.strategy, decompose_filters_max_taps=None))
    plan = next(p for p in candidate_plans.candidates(problem, unlimited) if p.label == label)
    arrays = autotune.problem_arrays(problem)
    backend = get_backend()
    name, plain, _ = VARIANTS[backend_name]
    runs = {}
    for variant, function in (("shipped", getattr(backend, name)), ("plain", plain)):
        compiled = backend.compile_for_timing(lambda x, w: execute(plan, problem, x, w), arrays, training,
                                              "cpu")
        runs[variant] = swapped(backend, name, function, compiled)
        runs[variant]()  # traced (with this slice) on its first call where the backend traces
        runs[variant]()
    times, rounds = budgeted_times(runs, budget)
    best = {variant: min(found) * 1e3 for variant, found in times.items()}
    return {"rank": rank, "size": size, "k": k, "batch": batch, "channels": channels, "filters": filters,
            "stride": stride, "training": training, "plan": label, "ms": best, "rounds": rounds,
            "ratio": best["plain"] / best["shipped"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=sorted(VARIANTS), default="tensorflow")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of timed rounds per shape")
    parser.add_argument("--json", help="also write the records as JSON")
    options = parser.parse_args()
    os.environ["KERAS_BACKEND"] = options.backend  # before Keras is imported
    from structconv.tuning.threads import limit_threads

    limit_threads(options.threads)
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    packages = ["tensorflow-cpu", "tensorflow"] if options.backend == "tensorflow" else ["torch"]
    found = ", ".join(f"{name} {version}" for name, version in versions([*packages, "keras"]).items())
    print(f"{machine()}; {found}; {options.threads} thread(s)"
          + (f", TF_ENABLE_ONEDNN_OPTS={onednn}" if options.backend == "tensorflow" else "") + "\n")
    name, _, shapes = VARIANTS[options.backend]
    print(f"| shape | step | plan | plain indexing ms | structconv's `{name}` ms | plain / structconv |")
    print("|---|---|---|---:|---:|---:|")
    records = []
    for shape in shapes:
        r = run(options.backend, shape, options.budget)
        records.append(r)
        print(f"| {r['rank']}-D {r['size']}^{r['rank']} k={r['k']} B={r['batch']} {r['channels']}->"
              f"{r['filters']}{' stride ' + str(r['stride']) if r['stride'] > 1 else ''} | "
              f"{'training' if r['training'] else 'forward'} | {r['plan']} | {r['ms']['plain']:.2f} | "
              f"{r['ms']['shipped']:.2f} | {r['ratio']:.2f} |", flush=True)
    ratios = [r["ratio"] for r in records]
    print(f"\nplain / structconv: {min(ratios):.2f}-{max(ratios):.2f}x. Command: `{' '.join(sys.argv)}`.")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"machine": machine(), "backend": options.backend, "threads": options.threads,
                       "onednn": onednn,
                       "records": records}, handle)


if __name__ == "__main__":
    main()
