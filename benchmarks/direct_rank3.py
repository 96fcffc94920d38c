"""Rank 3 on the CPU: the backend's own 3-D convolution against the decomposition onto its 2-D one.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/direct_rank3.py [--backend jax]
        [--threads N] [--budget S] [--json PATH]
    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/direct_rank3.py --backend tensorflow

Each shape's direct plans (`ops.plan.Plan`: "native", one convolution over the three spatial axes
(`lax.conv_general_dilated`, TensorFlow's Conv3D, torch's conv3d); "inputs" and "filters", the first axis
peeled and its taps stacked along the input channels or the filters of 2-D convolutions,
`ops.decomposition`) are compiled as measured planning runs them (`compile_for_timing`: `jax.jit`,
`tf.function`, eager torch; forward + backward for training steps) and timed in interleaved rounds for
`--budget` seconds (at least 5 rounds); the table gives each one's 25th-percentile call and native over the
faster stacking. On TensorFlow and torch, whose `DECOMPOSE_TO_RANK` is 3 (the planner runs rank 3
natively), the decomposition's target is set to 2 while a plan is traced, as
`benchmarks/calibrate_decomposition.py` does. Shapes: float32, channels_last, batch 1-8, 1-64 channels,
kernels 3-5, "same" and "valid", strides and dilation 2 on some, training steps among them; and transposed
convolutions (stacked along the filters only). The planner's JAX candidates at rank 3 follow from this
(`ops.planner._native_only`).
"""

import argparse
import json
import os
import sys
import time

SHAPES = (  # (sizes, k, batch, channels, filters, stride, dilation, padding, training)
    ((32, 32, 32), 3, 4, 16, 16, 1, 1, "same", False),
    ((32, 32, 32), 3, 4, 16, 16, 1, 1, "same", True),
    ((48, 48, 48), 3, 2, 8, 8, 1, 1, "same", False),
    ((24, 24, 24), 5, 2, 4, 8, 1, 1, "valid", False),
    ((64, 64, 64), 3, 1, 1, 8, 1, 1, "same", False),
    ((32, 32, 32), 3, 2, 1, 1, 1, 1, "same", True),
    ((32, 32, 32), 3, 4, 16, 32, 2, 1, "same", False),
    ((32, 32, 32), 3, 2, 8, 8, 1, 2, "same", True),
    ((16, 16, 16), 3, 8, 32, 32, 1, 1, "same", True),
    ((12, 12, 12), 3, 2, 64, 64, 1, 1, "same", False),
    ((53, 37, 15), 5, 4, 12, 12, 1, 1, "same", False),
    ((32, 32, 32), 3, 4, 16, 32, 2, 1, "same", True),
    ((32, 32, 32), 3, 2, 8, 16, 2, 1, "same", True),
)
# Transposed convolutions (the full one, as `ops.conv_transpose` runs it before cropping): the
# decomposition stacks along the filters only.
TRANSPOSED = (  # (sizes, k, batch, channels, filters, stride, training)
    ((16, 16, 16), 3, 4, 16, 16, 1, False),
    ((16, 16, 16), 3, 4, 16, 16, 2, False),
    ((16, 16, 16), 3, 2, 8, 8, 2, True),
    ((24, 24, 24), 4, 1, 4, 8, 2, False),
)
METHODS = ("native", "inputs", "filters")


def problem_of(shape):
    """The `ConvProblem` of an entry of `SHAPES`, or of `TRANSPOSED` (7 fields)."""
    from structconv.ops.problem import ConvProblem
    from structconv.shapes import arithmetic

    if len(shape) == 7:
        sizes, k, batch, channels, filters, stride, training = shape
        dilation, transposed, pads = 1, True, ((0, 0),) * 3
    else:
        sizes, k, batch, channels, filters, stride, dilation, padding, training = shape
        transposed = False
        pads = tuple(arithmetic.resolve_axis_padding(padding, n, k, stride, dilation) for n in sizes)
    import keras

    return ConvProblem(backend=keras.backend.backend(), device="cpu", rank=3, batch=batch, spatial=sizes,
                       channels=channels, filters=filters, kernel_size=(k,) * 3, groups=1,
                       strides=(stride,) * 3, dilation_rate=(dilation,) * 3, padding=pads,
                       padding_mode="zeros", dtype="float32", data_format="channels_last",
                       transposed=transposed, training=training)


def describe(shape):
    problem = problem_of(shape)
    extras = ["transposed"] if problem.transposed else [shape[7]]
    extras += ["stride 2"] * (problem.strides[0] > 1) + ["dilation 2"] * (problem.dilation_rate[0] > 1)
    return (f"{'x'.join(map(str, problem.spatial))}, k={problem.kernel_size[0]}, B={problem.batch}, "
            f"{problem.channels}->{problem.filters}, {'training' if problem.training else 'forward'}, "
            f"{', '.join(extras)}")


def time_shape(shape, budget):
    """`{method: seconds}`, the 25th-percentile call of each direct method the problem has."""
    from environment import rotated  # noqa: E402  (this folder is on sys.path)

    from structconv._backend import get_backend
    from structconv.ops.execute import execute
    from structconv.ops.plan import Plan
    from structconv.tuning import autotune

    problem = problem_of(shape)
    arrays = autotune.problem_arrays(problem)
    methods = ("native", "filters") if problem.transposed else METHODS
    backend = get_backend()

    def conv(x, w, plan):
        saved = backend.DECOMPOSE_TO_RANK
        backend.DECOMPOSE_TO_RANK = 2  # read while the plan is traced (JAX's own already)
        try:
            return execute(plan, problem, x, w)
        finally:
            backend.DECOMPOSE_TO_RANK = saved

    runs = {}
    for method in methods:
        plan = Plan(algorithm="direct", direct=method, fft=None, modelled_us=0.0)
        runs[method] = backend.compile_for_timing(lambda x, w, plan=plan: conv(x, w, plan), arrays,
                                                  problem.training, "cpu")
        runs[method]()
    samples = {method: [] for method in methods}
    deadline, rounds = time.perf_counter() + budget, 0
    while rounds < 5 or (time.perf_counter() < deadline and rounds < 50):
        for method in rotated(methods, rounds):
            start = time.perf_counter()
            runs[method]()
            samples[method].append(time.perf_counter() - start)
        rounds += 1
    return {method: autotune.low_quantile(values) for method, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="jax", choices=("jax", "tensorflow", "torch"))
    parser.add_argument("--threads", type=int, default=0, help="threads (0: the framework's default)")
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of timed rounds per shape")
    parser.add_argument("--json", metavar="PATH", help="also write the records as JSON")
    options = parser.parse_args()
    os.environ["KERAS_BACKEND"] = options.backend
    from environment import machine, versions  # noqa: E402  (this folder is on sys.path)

    from structconv.tuning.threads import limit_threads

    limit_threads(options.threads)
    started = time.perf_counter()
    lines = ["| shape (3-D) | native ms | inputs ms | filters ms | native / faster stacking |",
             "|---|---:|---:|---:|---:|"]
    records, ratios = [], []
    shapes = SHAPES + TRANSPOSED
    for index, shape in enumerate(shapes):
        print(f"[{index + 1}/{len(shapes)}] {describe(shape)}", file=sys.stderr, flush=True)
        times = time_shape(shape, options.budget)
        ratio = times["native"] / min(t for m, t in times.items() if m != "native")
        ratios.append(ratio)
        records.append({"shape": describe(shape), "seconds": times})
        lines.append(f"| {describe(shape)} | " + " | ".join(
            f"{times[m] * 1e3:.2f}" if m in times else "" for m in METHODS) + f" | {ratio:.2f} |")
    from structconv._backend import get_backend

    package = {"tensorflow": "tensorflow-cpu"}.get(options.backend, options.backend)
    markdown = "\n".join([
        f"## {options.backend}: its 3-D convolution against the decomposition onto its 2-D one\n",
        f"Machine: {machine()}; {options.threads or os.cpu_count()} thread(s); convolution kernels: "
        f"{get_backend().kernel_library('cpu')}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions((package, "keras")).items()) + "\n",
        *lines,
        f"\nnative / faster stacking: {min(ratios):.2f}-{max(ratios):.2f}x. Total run time: "
        f"{time.perf_counter() - started:.0f} s. Command: `{' '.join(sys.argv)}`.",
    ])
    print(markdown)
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "records": records, "markdown": markdown}, out, indent=2)


if __name__ == "__main__":
    main()
