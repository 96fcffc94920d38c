"""`algorithm="auto"` against `"direct"` and `"fft"`, each as a user gets it, on shapes drawn at random.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/auto_vs_forced.py [--random N] [--seed S]
        [--max-channels C] [--max-batch B] [--threads N] [--backends NAMES] [--json results.json]
    KERAS_BACKEND=torch python benchmarks/auto_vs_forced.py --worker torch --random 14 > torch.jsonl
    .venv/bin/python benchmarks/auto_vs_forced.py --records torch.jsonl jax.jsonl   # tabulate them here

The question issue 13's acceptance asks: is "auto" within 1.15x of the faster of the two algorithms? Each of
"auto", "direct" and "fft" is planned by `planner.plan_conv`, the seam every op and layer calls, with the
profile in force (the one `structconv calibrate` stored for this machine and thread count, else the shipped
one) and measured planning on (the default, "uncertain"; plan files bypassed, so each run measures afresh):
so "direct" and "fft" are the best plans of their algorithm that planning finds, not the model's guesses
(`benchmarks/fft.py` compares against the model's plans and reports the three kinds of pick). Shapes:
`fft.random_points` (ranks 1-4, kernels of at least 10 taps, forward and training steps, padding "same",
float32, channels_last; by default up to 64 channels and batch 8). "auto" is planned first, then "direct"
and "fft" in the same process, as a user's script would: they pick the fastest of their kind among the
times "auto" measured where those cover what they would time (`ops.contenders.reusable`); `--apart` forgets
them in between, so each measures alone, as in a process that runs one algorithm. The plans are compiled as
they run (`compile_for_timing`: jit / tf.function / eager; forward + backward for training) and timed in
interleaved rounds; the tables give each one's 25th-percentile call (what planning itself compares) and the
verdict auto / min(direct, fft). `--dtype float16` or `bfloat16` plans and times the problems in that dtype
(as a Keras mixed-precision policy computes), where direct plans may compute in float32
(`ops.working_precision`): the table then also gives the direct plan of the same way in the problem's own
dtype, what "auto" ran before it could widen, and its time over auto's. One subprocess per Keras backend.
Problems are planned and timed on the device the backend puts tensors on (a GPU where the framework sees one:
no shipped profile there, so "auto" measures every kind of plan); each record names its device and machine, so
a worker's lines from a GPU machine can be tabulated elsewhere with `--records`.
"""

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time

from environment import budgeted_times, machine, measure_afresh, run_worker_process, versions  # noqa: E402  (this folder is on sys.path)
from fft import BATCHES, WIDTHS, draws, random_points  # noqa: E402

from structconv.tuning.threads import limit_threads  # noqa: E402

BACKENDS = ("torch", "jax", "tensorflow")
TARGET = 1.15
# The most taps `--small-kernels` draws: one under the profiles' `fft_min_taps`.
SMALL_TAPS = 9
PACKAGES = ("keras", "jax", "torch", "tensorflow-cpu", "numpy")


def worker(backend, points, budget, apart=False, dtype="float32"):
    from structconv._backend import default_device, get_backend
    from structconv.ops import planner
    from structconv.ops.execute import execute
    from structconv.tuning import autotune

    measure_afresh()
    # Planning and timing run where the backend puts tensors ("gpu" where the framework sees one), as a
    # user's layer would.
    device = default_device()
    where, installed = machine(), versions(PACKAGES)
    for point in points:
        problem = point_problem(point, backend, device, dtype)
        training = problem.training
        planner.clear_plans()
        started = time.perf_counter()
        chosen = {"auto": planner.plan_conv(problem, "auto")}
        measuring = time.perf_counter() - started
        for algorithm in ("direct", "fft"):
            if apart:  # nothing auto measured is known to the next plan
                planner.clear_plans()
            chosen[algorithm] = planner.plan_conv(problem, algorithm)
        if chosen["direct"].working_dtype:  # the same way in the problem's own dtype
            chosen["own dtype"] = dataclasses.replace(chosen["direct"], working_dtype=None)
        arrays = autotune.problem_arrays(problem)
        runs = {}
        for plan in chosen.values():
            if plan.label not in runs:
                runs[plan.label] = get_backend().compile_for_timing(
                    lambda x, w, plan=plan, problem=problem: execute(plan, problem, x, w), arrays, training,
                    device, dtype=dtype)
                runs[plan.label]()
                runs[plan.label]()
        samples, round_index = budgeted_times(runs, budget)
        print(json.dumps({
            "backend": backend, "device": device, "dtype": dtype, **point_fields(point),
            "rounds": round_index,
            "plans": {algorithm: plan.label for algorithm, plan in chosen.items()},
            "sources": {algorithm: plan.source for algorithm, plan in chosen.items()},
            # The statistic planning compares candidates by (the 25th percentile).
            "q25": {label: autotune.low_quantile(values) for label, values in samples.items()},
            "min": {label: min(values) for label, values in samples.items()},
            # What auto's measuring found (25th percentiles, us): a pick the rounds above disagree with
            # shows whether measuring or these rounds saw another time.
            "auto_measured_us": dict(chosen["auto"].measured_us),
            "measuring_seconds": measuring, "point_seconds": time.perf_counter() - started,
            "machine": where, "versions": installed}), flush=True)


def varied_points(count, seed, max_channels=16, max_batch=4, small_kernels=False, kind="plain"):
    """`count` problems drawn at random (`seed`) along the axes `random_points` holds fixed: sizes that
    differ per axis (a cube's volume of 2^10-2^16 samples, each axis 0.5-2x its side), kernels of 2 taps
    and up that differ per axis (`small_kernels`: 2-`SMALL_TAPS` taps in all, 1-3 per axis above 1-D,
    under the profiles' `fft_min_taps`, where "auto" tries FFT only by measuring), padding "same" or
    "valid", stride 2 or dilation 2 on some axes (not both on one axis), and channels_first for a quarter
    of them; ranks 1-4, a third training steps; none with a direct plan of over 20 Gflop. `kind`
    "grouped": every convolution grouped (`grouped_channels`); "transposed": every one a transposed
    convolution (`ops.conv_transpose`'s full one, as planned: ungrouped, no padding, the sizes its
    input's)."""
    rng, widths, batches = draws(seed, max_channels, max_batch)
    points = []
    while len(points) < count:
        rank = rng.randint(1, 4)
        side = (2 ** rng.uniform(10, 16)) ** (1 / rank)
        sizes = [max(6, round(side * 2 ** rng.uniform(-1, 1))) for _ in range(rank)]
        largest = (255, 31, 13, 7)[rank - 1]
        kernels = [rng.randint(2, max(2, min(largest, n // 3))) for n in sizes]
        while small_kernels and not 2 <= math.prod(kernels) <= SMALL_TAPS:  # 1-D 2-9, else 1-3 an axis
            kernels = [rng.randint(min(low, n // 3), max(1, min(high, n // 3)))
                       for n in sizes for low, high in [(2, SMALL_TAPS) if rank == 1 else (1, 3)]]
        strides, dilations = [1] * rank, [1] * rank
        for axis in range(rank):
            draw = rng.random()
            if draw < 0.2:
                strides[axis] = 2
            elif draw < 0.35 and (kernels[axis] - 1) * 2 + 1 <= sizes[axis] // 2:
                dilations[axis] = 2
        point = {"rank": rank, "sizes": sizes, "kernels": kernels, "strides": strides, "dilations": dilations,
                 "padding": rng.choice(("same", "valid")), "batch": rng.choice(batches),
                 "channels": rng.choice(widths), "filters": None, "training": rng.random() < 1 / 3,
                 "data_format": "channels_first" if rng.random() < 0.25 else "channels_last"}
        point["filters"] = point["channels"] if rng.random() < 0.5 else rng.choice(widths)
        point["groups"], point["transposed"] = 1, kind == "transposed"
        if kind == "grouped":
            point["channels"], point["filters"], point["groups"] = grouped_channels(rng, widths)
        outputs = math.prod(n // s for n, s in zip(sizes, strides))
        if point["transposed"]:  # every input sample meets every tap
            point["padding"], outputs = "valid", math.prod(sizes)
        flops = (2 * point["batch"] * outputs * math.prod(kernels) * point["channels"] * point["filters"]
                 // point["groups"])
        if flops * (3 if point["training"] else 1) <= 2e10:
            points.append(point)
    return points


def grouped_channels(rng, widths):
    """`(channels, filters, groups)` of a grouped convolution drawn with `rng` from `widths`: depthwise half
    the time (a group per channel, 1 or 2 filters each), else 2 or 4 groups of at least 2 channels."""
    channels = rng.choice([w for w in widths if w >= 4])
    if rng.random() < 0.5:
        return channels, channels * rng.choice((1, 2)), channels
    groups = rng.choice([g for g in (2, 4) if channels % g == 0 and channels // g >= 2])
    return channels, groups * rng.choice([w for w in (1, 2, 4) if w * groups <= max(widths)]), groups


def point_problem(point, backend, device, dtype="float32"):
    """The `ConvProblem` of a point of `random_points` (a tuple) or `varied_points` (a dict) in `dtype`."""
    from structconv.ops.problem import ConvProblem
    from structconv.shapes import arithmetic
    from structconv.tuning.square_problem import square_problem

    if not isinstance(point, dict):
        rank, size, k, batch, channels, filters, training = point
        return square_problem(backend, device, rank, size, k, batch, channels, filters, training=training,
                              dtype=dtype)
    transposed = point.get("transposed", False)
    if transposed:  # the full transposed convolution: no padding
        pads = ((0, 0),) * point["rank"]
    else:
        pads = tuple(arithmetic.resolve_axis_padding(point["padding"], n, k, s, d) for n, k, s, d in
                     zip(point["sizes"], point["kernels"], point["strides"], point["dilations"]))
    return ConvProblem(backend=backend, device=device, rank=point["rank"], batch=point["batch"],
                       spatial=tuple(point["sizes"]), channels=point["channels"], filters=point["filters"],
                       kernel_size=tuple(point["kernels"]), groups=point.get("groups", 1),
                       strides=tuple(point["strides"]), dilation_rate=tuple(point["dilations"]), padding=pads,
                       padding_mode="zeros", dtype=dtype, data_format=point["data_format"],
                       transposed=transposed, training=point["training"])


def point_fields(point):
    """A point as the fields of its record."""
    if isinstance(point, dict):
        return dict(point)
    return dict(zip(("rank", "size", "k", "batch", "channels", "filters", "training"), point))


def describe(record):
    """A record's problem in a table cell."""
    step = "training" if record["training"] else "forward"
    if "sizes" not in record:
        return (f"{record['rank']}-D {record['size']}^{record['rank']}, k={record['k']}, "
                f"B={record['batch']}, {record['channels']}->{record['filters']}, {step}")
    extras = ["transposed"] if record.get("transposed") else [record["padding"]]
    if record.get("groups", 1) > 1:
        extras.append("depthwise" if record["groups"] == record["channels"] else f"{record['groups']} groups")
    if any(s > 1 for s in record["strides"]):
        extras.append("strides " + "x".join(map(str, record["strides"])))
    if any(d > 1 for d in record["dilations"]):
        extras.append("dilation " + "x".join(map(str, record["dilations"])))
    if record["data_format"] == "channels_first":
        extras.append("channels_first")
    sizes, kernels = ("x".join(map(str, record[key])) for key in ("sizes", "kernels"))
    return (f"{record['rank']}-D {sizes}, k={kernels}, B={record['batch']}, {record['channels']}->"
            f"{record['filters']}, {step}, {', '.join(extras)}")


def ratio(record, statistic):
    times, plans = record[statistic], record["plans"]
    return times[plans["auto"]] / min(times[plans["direct"]], times[plans["fft"]])


def table(records, backends):
    half = any(r.get("dtype", "float32") != "float32" for r in records)
    own = " own dtype direct ms | own / auto |" if half else ""
    lines = ["| point | backend | direct ms | fft ms | auto | auto / faster (q25) | auto / faster (min) "
             "| auto measuring s |" + own, "|---|---|---:|---:|---|---:|---:|---:|" + "---:|---:|" * half]
    for r in sorted(records, key=lambda r: (r["rank"], describe(r), r["backend"])):
        q25, plans = r["q25"], r["plans"]
        verdict = ratio(r, "q25")
        mine = q25.get(plans.get("own dtype"))
        own_cells = "" if not half else (
            f" {mine * 1e3:.2f} | {mine / q25[plans['auto']]:.1f}x |" if mine else " | |")
        lines.append(
            f"| {describe(r)} | {r['backend']} | {q25[plans['direct']] * 1e3:.2f} | "
            f"{q25[plans['fft']] * 1e3:.2f} | {plans['auto']} | {verdict:.2f}"
            f"{' **miss**' if verdict > TARGET else ''} | {ratio(r, 'min'):.2f} | "
            f"{r['measuring_seconds']:.1f} |" + own_cells)
    verdicts = []
    for backend in backends:
        mine = [r for r in records if r["backend"] == backend]
        if mine:
            by_q25 = [ratio(r, "q25") for r in mine]
            by_min = [ratio(r, "min") for r in mine]
            verdicts.append(
                f"{backend}: auto within {TARGET}x of the faster at {sum(x <= TARGET for x in by_q25)}/"
                f"{len(mine)} by the 25th percentile (worst {max(by_q25):.2f}x), at "
                f"{sum(x <= TARGET for x in by_min)}/{len(mine)} by the fastest call "
                f"(worst {max(by_min):.2f}x); "
                f"measuring median {statistics.median(r['measuring_seconds'] for r in mine):.1f} s, at most "
                f"{max(r['measuring_seconds'] for r in mine):.1f} s")
    return "\n".join(lines), verdicts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--random", type=int, default=24, metavar="N", help="how many shapes")
    parser.add_argument("--seed", type=int, default=20, help="the seed of the shapes")
    parser.add_argument("--max-channels", type=int, default=64, choices=WIDTHS)
    parser.add_argument("--max-batch", type=int, default=8, choices=BATCHES)
    parser.add_argument("--varied", action="store_true",
                        help="draw `varied_points` (sizes and kernels per axis, valid padding, strides, "
                             "dilation, channels_first) instead of `fft.random_points`")
    parser.add_argument("--small-kernels", action="store_true",
                        help=f"with --varied: kernels of 2-{SMALL_TAPS} taps, where auto tries FFT only by "
                        "measuring")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per framework (0: the frameworks' defaults, all cores)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed rounds per point")
    parser.add_argument("--apart", action="store_true",
                        help="plan direct and fft each measuring alone, not from what auto measured")
    parser.add_argument("--kind", default="plain", choices=("plain", "grouped", "transposed"),
                        help="with --varied: grouped convolutions (depthwise half the time) or transposed "
                             "ones")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64", "float16", "bfloat16"),
                        help="the problems' dtype")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="subset of " + ",".join(BACKENDS))
    parser.add_argument("--json", metavar="PATH", help="also write the records and the tables as JSON")
    parser.add_argument("--records", nargs="+", metavar="PATH",
                        help="tabulate the JSON lines that workers printed (`--worker NAME`, run where the "
                             "device is) instead of running them")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if (options.small_kernels or options.kind != "plain") and not options.varied:
        parser.error("--small-kernels and --kind draw `varied_points`: add --varied")
    if options.varied:
        points = varied_points(options.random, options.seed, options.max_channels, options.max_batch,
                               options.small_kernels, options.kind)
    else:
        points = random_points(options.random, options.seed, options.max_channels, options.max_batch)
    if options.worker:
        limit_threads(options.threads)
        worker(options.worker, points, options.budget, options.apart, options.dtype)
        return
    started = time.perf_counter()
    backends = [b for b in options.backends.split(",") if b]
    records = []
    arguments = ["--random", str(options.random), "--seed", str(options.seed), "--max-channels",
                 str(options.max_channels), "--max-batch", str(options.max_batch), "--threads",
                 str(options.threads), "--budget", str(options.budget), "--dtype", options.dtype]
    arguments += ["--apart"] * options.apart
    arguments += ["--varied"] * options.varied + ["--small-kernels"] * options.small_kernels
    arguments += ["--kind", options.kind]
    for backend in backends if not options.records else ():
        found, ok = run_worker_process(__file__, backend, arguments, 3600)
        if not ok:
            raise SystemExit(f"{backend} worker failed")
        records += found
    for path in options.records or ():
        with open(path) as lines:
            records += [json.loads(line) for line in lines if line.startswith("{")]
    if options.records:
        backends = list(dict.fromkeys(r["backend"] for r in records))
    rows, verdicts = table(records, backends)
    where = sorted({r.get("machine", machine()) for r in records}) or [machine()]
    installed = records[0].get("versions", versions(PACKAGES)) if records else versions(PACKAGES)
    markdown = "\n".join([
        f"## auto against direct and fft, each as planning finds it ({options.dtype})\n",
        f"Machine: {'; '.join(where)}; {options.threads or os.cpu_count()} thread(s) per framework; load "
        f"average {os.getloadavg()[0]:.1f} at the end.\n" if not options.records else
        f"Machine: {'; '.join(where)}; devices: {', '.join(sorted({r['device'] for r in records}))}.\n",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in installed.items()) + "\n",
        rows,
        "\n" + "; ".join(verdicts) + ".",
        f"\nTotal run time: {time.perf_counter() - started:.0f} s. Command: `{' '.join(sys.argv)}`.",
    ])
    print(markdown)
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": where, "versions": installed, "records": records,
                       "verdicts": verdicts, "markdown": markdown}, out, indent=2)


if __name__ == "__main__":
    main()
