"""Rank 3 (or 4) on the CPU: the backend's own 3-D convolution against the decomposition onto its 2-D one.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/direct_rank3.py [--backend jax]
        [--rank 4] [--threads N] [--budget S] [--json PATH]
    TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/direct_rank3.py --backend tensorflow [--rank 4]

Each shape's direct plans (`ops.plan.Plan`) are compiled as measured planning runs them
(`compile_for_timing`: `jax.jit`, `tf.function`, eager torch; forward + backward for training steps) and
timed in interleaved rounds for `--budget` seconds (at least 5 rounds); the table gives each one's
25th-percentile call and the faster way onto 3-D over the faster onto 2-D. At rank 3 (`SHAPES`,
`TRANSPOSED`): "native", one convolution over the three spatial axes (`lax.conv_general_dilated`,
TensorFlow's Conv3D, torch's conv3d), against "inputs" and "filters", the first axis peeled and its taps
stacked along the input channels or the filters of 2-D convolutions (`ops.decomposition`, `Plan.onto` 2).
At rank 4 (`SHAPES_4`, `TRANSPOSED_4`): the decomposition onto 3-D against the one onto 2-D, both
stackings each. Shapes: float32, channels_last, batch 1-8, 1-64 channels, kernels 3-5, "same" and "valid",
strides and dilation 2 on some, training steps among them; and transposed convolutions (stacked along the
filters only). The planner's candidates follow from this (`ops.candidate_plans._native_only`,
`other_targets`).
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
SHAPES_4 = (
    ((12, 12, 12, 12), 3, 2, 4, 8, 2, 1, "same", True),
    ((12, 12, 12, 12), 3, 2, 8, 8, 1, 1, "same", True),
    ((10, 10, 10, 10), 3, 2, 4, 4, 2, 1, "same", False),
    ((16, 12, 10, 8), 3, 1, 2, 4, 1, 2, "same", True),
    ((9, 9, 9, 9), 3, 4, 16, 16, 2, 1, "valid", True),
    ((8, 8, 8, 8), 3, 2, 1, 1, 1, 1, "same", True),
    ((10, 10, 10, 10), 3, 2, 8, 8, 1, 1, "same", False),
)
TRANSPOSED_4 = (
    ((8, 8, 8, 8), 3, 2, 4, 4, 1, False),
    ((8, 8, 8, 8), 3, 2, 4, 4, 2, True),
)
# (label, Plan.direct, Plan.onto) per rank: the first group runs on 3-D, the second on 2-D.
METHODS = {3: ((("native", "native", None),), (("inputs", "inputs", 2), ("filters", "filters", 2))),
           4: ((("inputs:3d", "inputs", 3), ("filters:3d", "filters", 3)),
               (("inputs:2d", "inputs", 2), ("filters:2d", "filters", 2)))}


def problem_of(shape):
    """The `ConvProblem` of an entry of `SHAPES` or `SHAPES_4`, or of `TRANSPOSED` or `TRANSPOSED_4` (7
    fields)."""
    from structconv.ops.problem import ConvProblem
    from structconv.shapes import arithmetic

    if len(shape) == 7:
        sizes, k, batch, channels, filters, stride, training = shape
        dilation, transposed, pads = 1, True, ((0, 0),) * len(sizes)
    else:
        sizes, k, batch, channels, filters, stride, dilation, padding, training = shape
        transposed = False
        pads = tuple(arithmetic.resolve_axis_padding(padding, n, k, stride, dilation) for n in sizes)
    import keras

    rank = len(sizes)
    return ConvProblem(backend=keras.backend.backend(), device="cpu", rank=rank, batch=batch, spatial=sizes,
                       channels=channels, filters=filters, kernel_size=(k,) * rank, groups=1,
                       strides=(stride,) * rank, dilation_rate=(dilation,) * rank, padding=pads,
                       padding_mode="zeros", dtype="float32", data_format="channels_last",
                       transposed=transposed, training=training)


def describe(shape):
    problem = problem_of(shape)
    extras = ["transposed"] if problem.transposed else [shape[7]]
    extras += ["stride 2"] * (problem.strides[0] > 1) + ["dilation 2"] * (problem.dilation_rate[0] > 1)
    return (f"{'x'.join(map(str, problem.spatial))}, k={problem.kernel_size[0]}, B={problem.batch}, "
            f"{problem.channels}->{problem.filters}, {'training' if problem.training else 'forward'}, "
            f"{', '.join(extras)}")


def methods_of(problem):
    """`(label, direct, onto)` of each direct plan timed (transposed: stacked along the filters only)."""
    return [m for group in METHODS[problem.rank] for m in group
            if not problem.transposed or m[1] != "inputs"]


def time_shape(shape, budget):
    """`{label: seconds}`, the 25th-percentile call of each direct plan `methods_of` the problem."""
    from environment import budgeted_times  # noqa: E402  (this folder is on sys.path)

    from structconv._backend import get_backend
    from structconv.ops.execute import execute
    from structconv.ops.plan import Plan
    from structconv.tuning import autotune

    problem = problem_of(shape)
    arrays = autotune.problem_arrays(problem)
    backend = get_backend()
    runs = {}
    for label, method, onto in methods_of(problem):
        plan = Plan(algorithm="direct", direct=method, onto=onto, source="forced")
        runs[label] = backend.compile_for_timing(lambda x, w, plan=plan: execute(plan, problem, x, w), arrays,
                                                 problem.training, "cpu")
        runs[label]()
    samples, _ = budgeted_times(runs, budget, max_rounds=50)
    return {label: autotune.low_quantile(values) for label, values in samples.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="jax", choices=("jax", "tensorflow", "torch"))
    parser.add_argument("--rank", type=int, default=3, choices=(3, 4))
    parser.add_argument("--threads", type=int, default=0, help="threads (0: the framework's default)")
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of timed rounds per shape")
    parser.add_argument("--json", metavar="PATH", help="also write the records as JSON")
    options = parser.parse_args()
    os.environ["KERAS_BACKEND"] = options.backend
    from environment import machine, versions  # noqa: E402  (this folder is on sys.path)

    from structconv.tuning.threads import limit_threads

    limit_threads(options.threads)
    started = time.perf_counter()
    on_3d, on_2d = METHODS[options.rank]
    labels = [m[0] for m in on_3d + on_2d]
    lines = [f"| shape ({options.rank}-D) | " + " | ".join(f"{label} ms" for label in labels)
             + " | onto 3-D / onto 2-D |", "|---|" + "---:|" * (len(labels) + 1)]
    records, ratios = [], []
    shapes = SHAPES + TRANSPOSED if options.rank == 3 else SHAPES_4 + TRANSPOSED_4
    for index, shape in enumerate(shapes):
        print(f"[{index + 1}/{len(shapes)}] {describe(shape)}", file=sys.stderr, flush=True)
        times = time_shape(shape, options.budget)
        ratio = (min(times[m[0]] for m in on_3d if m[0] in times)
                 / min(times[m[0]] for m in on_2d if m[0] in times))
        ratios.append(ratio)
        records.append({"shape": describe(shape), "seconds": times})
        lines.append(f"| {describe(shape)} | " + " | ".join(
            f"{times[label] * 1e3:.2f}" if label in times else "" for label in labels) + f" | {ratio:.2f} |")
    from structconv._backend import get_backend

    package = {"tensorflow": "tensorflow-cpu"}.get(options.backend, options.backend)
    markdown = "\n".join([
        f"## {options.backend}, rank {options.rank}: the decomposition onto 2-D against the 3-D "
        "convolution\n",
        f"Machine: {machine()}; {options.threads or os.cpu_count()} thread(s); convolution kernels: "
        f"{get_backend().kernel_library('cpu')}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions((package, "keras")).items()) + "\n",
        *lines,
        f"\nonto 3-D / onto 2-D: {min(ratios):.2f}-{max(ratios):.2f}x. Total run time: "
        f"{time.perf_counter() - started:.0f} s. Command: `{' '.join(sys.argv)}`.",
    ])
    print(markdown)
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "records": records, "markdown": markdown}, out, indent=2)


if __name__ == "__main__":
    main()
