"""Calibrates the cost model of `algorithm="auto"` (`structconv.ops.algorithm`) on this machine.

    flock /tmp/structconv-bench.lock .venv/bin/python benchmarks/calibrate_fft.py [--quick] [--threads N]
        [--json calibration.json]

For each Keras backend (one subprocess each), this times the forward `structconv.ops.conv` over a grid of
shapes (ranks 1-4, several batches, channel counts, kernel sizes and FFT lengths; padding "same" and
"valid", strides 1 and 2; float32, channels_last) three ways: `algorithm="direct"`, and `"fft"` with the
kernel's spectrum computed by DFT matrices and by FFT (`fft_conv.KERNEL_TRANSFORM`). The grid is not the
crossover sweep of `benchmarks/fft.py`, which validates the fit on shapes it has not seen.

Then it fits, per backend, by bounded least squares on relative error (each row divided by its measured
time, so every shape weighs the same whatever its size):

- direct: `time = overhead + flops / rate[rank] + bytes / bandwidth`;
- FFT: `time = overhead + fft_flops / fft_rate + dft_flops / dft_rate + product_flops / product_rate +
  bytes / bandwidth`,

the work of each term from `algorithm.direct_terms` / `algorithm.fft_terms` (so the fit and the model count
the same way). The bounds keep the constants physical: every rate between `SLOWEST` and the peak of the
threads used (`PEAK_GFLOPS_PER_THREAD` times the threads, `PEAK_GBPS`), every overhead at least
`OVERHEAD_FLOOR` times the fastest call on the tiny grid points (one channel, a few samples: almost nothing
but overhead), and the FFT overhead at least the direct one (an FFT call goes through the same call
machinery, then runs pad, rfftn, product, irfftn and slice). Then, per rank, the margin by which FFT must
be modelled cheaper (`fit_margins`), fitted to the decisions. It prints `COSTS` to paste into
`src/structconv/ops/algorithm.py`, with the fit's errors and how often the fitted model picks the faster
algorithm on the grid.
Functions run under `jax.jit` on JAX, `tf.function` on TensorFlow and eagerly on torch, as a model would;
each time is the fastest of 4-7 interleaved rounds after warm-up (the least disturbed by other load).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from environment import limit_threads, machine, run_worker_process, to_backend, versions  # noqa: E402
from fft import PACKAGES, measure_interleaved  # noqa: E402

BACKENDS = ("torch", "jax", "tensorflow")
# (rank, size, kernels, batch, channels, filters, padding, stride): every kernel size is one point.
GRID = [
    (1, 8192, (9, 33, 129, 513), 2, 8, 8, "same", 1),
    (1, 32768, (17, 65, 257), 1, 4, 4, "same", 1),
    (1, 4096, (9, 65, 257), 4, 16, 16, "valid", 1),
    (1, 8192, (33, 257), 2, 8, 8, "same", 2),
    (2, 128, (5, 11, 23), 2, 8, 8, "same", 1),
    (2, 192, (7, 19, 41), 1, 4, 8, "same", 1),
    (2, 96, (3, 9, 25), 4, 16, 16, "valid", 1),
    (2, 128, (9, 21), 2, 8, 8, "same", 2),
    (3, 32, (3, 7, 13), 2, 8, 8, "same", 1),
    (3, 40, (5, 11), 1, 4, 4, "same", 1),
    (3, 24, (3, 7), 2, 16, 16, "valid", 1),
    (4, 12, (2, 4, 6), 2, 8, 8, "same", 1),
    (4, 16, (3, 5), 1, 4, 4, "valid", 1),
    (4, 16, (7,), 2, 4, 8, "valid", 1),
    # Tiny problems: almost all of their time is the per-call overhead of each algorithm.
    (1, 16, (1, 3), 1, 1, 1, "same", 1),
    (2, 8, (3,), 1, 1, 1, "same", 1),
    (3, 6, (3,), 1, 1, 1, "same", 1),
    (4, 4, (2,), 1, 1, 1, "same", 1),
]
QUICK_GRID = [
    (1, 8192, (9, 129), 2, 8, 8, "same", 1),
    (2, 128, (5, 23), 2, 8, 8, "same", 1),
    (3, 32, (3, 9), 2, 8, 8, "same", 1),
    (4, 12, (2, 5), 2, 8, 8, "same", 1),
    (1, 16, (1,), 1, 1, 1, "same", 1),
]
# direct; FFT of the whole input with the kernel's spectrum by DFT or FFT; overlap-save blocks of
# `fast_length(4 * extent)` likewise (`fft_conv.GEOMETRY`, where an axis is long enough for blocks).
VARIANTS = ("direct", "fft-dft", "fft-fft", "blocks-dft", "blocks-fft")
FFT_VARIANTS = VARIANTS[1:]
BLOCK_FACTOR = 4
FFT_TERMS = ("fft", "dft", "product", "memory")
RANKS = (1, 2, 3, 4)


def features(rank, size, k, batch, channels, filters, padding, stride, block_factor=BLOCK_FACTOR,
             backend_name="torch"):
    """The model's work terms for one point on `backend_name`, from the library's own arithmetic (blocks
    of `block_factor`; the copies of blocks are counted per backend)."""
    from structconv.ops import algorithm
    from structconv.ops.arguments import conv_arguments, resolve_padding

    args = conv_arguments(rank, strides=stride, padding=padding)
    pads = resolve_padding((size,) * rank, (k,) * rank, args)
    outputs = tuple((size + a + b - k) // stride + 1 for a, b in pads)
    padded = tuple(size + a + b for a, b in pads)
    direct = algorithm.direct_terms(batch, outputs, (k,) * rank, channels, filters, 1, padded, 4,
                                    algorithm.direct_min_channels(backend_name, rank))
    geometries = {g[0]: g for g in algorithm._geometries((size,) * rank, (k,) * rank, pads, "zeros")}
    fft, lengths = {}, {}
    for variant in FFT_VARIANTS:
        option = "whole" if variant.startswith("fft") else block_factor
        if option not in geometries:
            continue
        _, lengths[variant], _, counts = geometries[option]
        fft[variant] = algorithm.fft_terms(batch * math.prod(counts), channels, filters, 1, lengths[variant],
                                           (k,) * rank, 4, variant.endswith("dft"), option != "whole",
                                           backend_name)
    return lengths, direct, fft


def run_worker(backend, grid, budget):
    from structconv import ops
    from structconv.demo.large_kernel import compiled_forward
    from structconv.ops import fft_conv

    for rank, size, kernels, batch, channels, filters, padding, stride in grid:
        for k in kernels:
            rng = np.random.default_rng(0)
            x = to_backend(rng.standard_normal((batch, *[size] * rank, channels), dtype=np.float32), backend)
            w = to_backend(rng.standard_normal((*[k] * rank, channels, filters), dtype=np.float32), backend)
            lengths, direct, fft = features(rank, size, k, batch, channels, filters, padding, stride,
                                            backend_name=backend)
            functions = {}
            for variant in ("direct", *fft):
                algorithm = "direct" if variant == "direct" else "fft"
                transform = None if variant == "direct" else variant.split("-")[1]
                geometry = "whole" if variant.startswith("fft") else BLOCK_FACTOR

                def conv(x, w, algorithm=algorithm, transform=transform, geometry=geometry, stride=stride,
                         padding=padding):
                    # read while tracing (jit) or at each call (eager)
                    fft_conv.KERNEL_TRANSFORM, fft_conv.GEOMETRY = transform, geometry
                    return ops.conv(x, w, strides=stride, padding=padding, algorithm=algorithm)

                functions[variant] = compiled_forward(conv)
            for way in ("fft", "blocks"):
                if f"{way}-dft" in fft and fft[f"{way}-dft"]["dft"] > 8 * fft[f"{way}-fft"]["fft"]:
                    del functions[f"{way}-dft"]  # hopeless and slow to time
            # The fastest round: the machine's cost of the work, least disturbed by other load.
            medians, rounds = measure_interleaved(
                {v: lambda f=f, x=x, w=w: f(x, w) for v, f in functions.items()},
                budget, max_rounds=7, min_rounds=4, statistic=min,
            )
            fft_conv.KERNEL_TRANSFORM = fft_conv.GEOMETRY = None
            print(json.dumps({
                "backend": backend, "rank": rank, "size": size, "k": k, "batch": batch, "channels": channels,
                "filters": filters, "padding": padding, "stride": stride, "lengths": lengths,
                "direct_terms": direct, "fft_terms": fft, "seconds": medians, "rounds": rounds,
            }), flush=True)


# --- fitting -------------------------------------------------------------------------------------------

# Bounds that keep the fitted constants physical: no rate above the peak of the threads used (a 2.6 GHz core
# doing two 16-wide float32 FMAs per cycle: 166 Gflop/s per thread; NumPy's float32 matmul measured 309-333
# Gflop/s on the two vCPUs of the test machine, benchmarks/ndconv.py), no bandwidth above what a 2-core VM
# reaches, no rate below a crawl.
PEAK_GFLOPS_PER_THREAD = 166.0
# FFTs and the spectral product stream complex data with shuffles and strided passes: at most a quarter of
# the peak.
FFT_PEAK_FRACTION = 0.25
PEAK_GBPS = 50.0
SLOWEST = 0.05
# An overhead is at least this fraction of the fastest tiny call (the `TINY` points: nearly all overhead).
OVERHEAD_FLOOR = 0.8


def is_tiny(record):
    return record["channels"] == 1 and record["batch"] == 1 and record["size"] <= 16


def fit_relative(columns, seconds, lower, upper):
    """`p` within bounds minimising `sum(((A p - t) / t) ** 2)`; returns `p` and the relative errors."""
    from scipy.optimize import lsq_linear

    a = np.asarray(columns, np.float64)
    t = np.asarray(seconds, np.float64)
    p = lsq_linear(a / t[:, None], np.ones_like(t), bounds=(lower, upper)).x
    return p, a @ p / t - 1


def per_unit(rate, scale=1e3):
    """Microseconds per unit of work at `rate` G units per second."""
    return 1.0 / (rate * scale)


def fit_backend(records, threads=1):
    """Fits the direct and FFT models of one backend, timed with `threads` threads; returns the constants
    and the fit's diagnostics."""
    peak = PEAK_GFLOPS_PER_THREAD * threads
    peak_fft = FFT_PEAK_FRACTION * peak
    tiny = [r for r in records if is_tiny(r)] or records
    direct_floor = OVERHEAD_FLOOR * min(r["seconds"]["direct"] for r in tiny) * 1e6
    fft_floor = OVERHEAD_FLOOR * min(t for r in tiny for v, t in r["seconds"].items() if v != "direct") * 1e6

    rows_d, times_d = [], []
    for r in records:
        terms = r["direct_terms"]
        column = [1.0] + [terms["flops"] if min(r["rank"], 4) == rank else 0.0 for rank in RANKS]
        rows_d.append(column + [terms["memory"]])
        times_d.append(r["seconds"]["direct"] * 1e6)
    lower = [direct_floor] + [per_unit(peak)] * 4 + [per_unit(PEAK_GBPS)]
    upper = [np.inf] + [per_unit(SLOWEST)] * 5
    p_d, err_d = fit_relative(rows_d, times_d, lower, upper)

    rows_f, times_f = [], []
    for r in records:
        for variant in FFT_VARIANTS:
            if variant in r["seconds"]:
                terms = r["fft_terms"][variant]
                per_rank = [terms["fft"] if min(r["rank"], 4) == rank else 0.0 for rank in RANKS]
                rows_f.append([1.0, *per_rank] + [terms[name] for name in FFT_TERMS[1:]])
                times_f.append(r["seconds"][variant] * 1e6)
    # An FFT call goes through the same call machinery as a direct one, and then runs several ops.
    lower = ([max(fft_floor, p_d[0])] + [per_unit(peak_fft)] * 4 + [per_unit(peak)]
             + [per_unit(peak_fft), per_unit(PEAK_GBPS)])
    upper = [np.inf] + [per_unit(SLOWEST)] * 7
    p_f, err_f = fit_relative(rows_f, times_f, lower, upper)

    def rate(microseconds_per_unit):
        return round(1e-3 / microseconds_per_unit, 2)

    fitted = {
        "direct_overhead_us": round(float(p_d[0]), 1),
        "direct_gflops": tuple(rate(p) for p in p_d[1:5]),
        "direct_gbps": rate(p_d[5]),
        "fft_overhead_us": round(float(p_f[0]), 1),
        "fft_gflops": tuple(rate(p) for p in p_f[1:5]),
        "dft_gflops": rate(p_f[5]),
        "product_gflops": rate(p_f[6]),
        "fft_gbps": rate(p_f[7]),
    }
    diagnostics = {
        "direct_overhead_floor_us": direct_floor,
        "fft_overhead_floor_us": fft_floor,
        "direct_error_median": float(np.median(np.abs(err_d))),
        "direct_error_max": float(np.max(np.abs(err_d))),
        "fft_error_median": float(np.median(np.abs(err_f))),
        "fft_error_max": float(np.max(np.abs(err_f))),
    }
    return fitted, diagnostics


def predicted_costs(record, fitted, backend):
    """The fitted model's cost of direct and of its cheapest FFT variant for a grid point, by the
    library's own functions with the fitted constants installed (the kernel's transform also by the model,
    the geometry as timed): `(direct_us, variant, fft_us)`."""
    from structconv.ops import algorithm

    saved = algorithm.COSTS.get(backend)
    algorithm.COSTS[backend] = algorithm.Costs(**fitted)
    try:
        rank, k = record["rank"], record["k"]
        lengths, direct_terms = record["lengths"], record["direct_terms"]
        c = algorithm.costs(backend)
        direct = (c.direct_overhead_us + direct_terms["flops"] / (c.direct_gflops[min(rank, 4) - 1] * 1e3)
                  + direct_terms["memory"] / (c.direct_gbps * 1e3))
        costs = {}
        for way in ("fft", "blocks"):
            if f"{way}-fft" not in record["fft_terms"]:
                continue
            by_dft = algorithm.kernel_by_dft((k,) * rank, tuple(lengths[f"{way}-fft"]), backend)
            variant = f"{way}-{'dft' if by_dft else 'fft'}"
            terms = record["fft_terms"][variant]
            rates = {"fft": c.fft_gflops[min(rank, 4) - 1], "dft": c.dft_gflops,
                     "product": c.product_gflops, "memory": c.fft_gbps}
            costs[variant] = c.fft_overhead_us + sum(terms[n] / (rates[n] * 1e3) for n in FFT_TERMS)
        best = min(costs, key=costs.get)
        return direct, best, costs[best]
    finally:
        if saved is not None:
            algorithm.COSTS[backend] = saved


def choice_ratio(record, choice):
    """The measured time of `choice` over the fastest measured variant of a grid point. A DFT variant is
    not timed where hopeless: count the FFT one; a point of a benchmark sweep (--also) has one FFT time,
    that of the plan it ran."""
    measured = record["seconds"]
    ffts = [v for v in VARIANTS[1:] if v in measured]
    chosen = measured.get(choice, measured.get(choice.replace("dft", "fft"), measured[ffts[0]]))
    return chosen / min(measured.values())


def pick(record, fitted, direct, best, fft, margin):
    """The model's pick from its costs, by the rules of `algorithm._choose`: direct for kernels of fewer
    than `FFT_MIN_TAPS` taps and problems below `TINY_OVERHEADS` FFT overheads, else FFT where it is
    modelled `margin` times cheaper."""
    from structconv.ops.algorithm import FFT_MIN_TAPS, TINY_OVERHEADS

    if record["k"] ** record["rank"] < FFT_MIN_TAPS or direct < TINY_OVERHEADS * fitted["fft_overhead_us"]:
        return "direct"
    return "direct" if direct <= fft * margin else best


def predicted_choice(record, fitted, backend, margin=1.0):
    """What the fitted model picks for a grid point, with its modelled direct and FFT costs."""
    direct, best, fft = predicted_costs(record, fitted, backend)
    return pick(record, fitted, direct, best, fft, margin), direct, fft


# FFT margins tried per rank: "auto" picks FFT where it is modelled `margin` times cheaper than direct.
# Below 1 a margin picks FFT where it is modelled costlier, which the data ask for at single points (a
# strided 2-D FFT, a 1-D one on 4 channels) but which went wrong by 2-5x on shapes outside the fitted
# points (JAX, 16 channels, whose FFT then ran 2-3x slower than modelled); so at most a 15% correction
# that way, up to 2x the other (direct is exact and the safer default).
MARGINS = tuple(sorted({1.0, *(round(0.85 * 1.025**i, 3) for i in range(35))}))  # 0.85 .. 1.99
# How far past the nearest margin to 1 that ties, in steps of MARGINS, the chosen one goes while the tie
# holds (about 10%: the times of a rerun move by that much).
SAFETY_STEPS = 4


def fit_margins(records, fitted, backend):
    """Per rank (1, 2, 3 and 4+), the margin that makes the fitted model's picks best on the records:
    fewest picks more than 1.15x slower than the faster algorithm, then the least total slowdown
    (geometric); among the margins that tie, 1 (no correction) if it is one of them, else the one nearest
    to 1 moved `SAFETY_STEPS` further from 1 while the tie holds (the middle of a wide tie, used before,
    made corrections the data did not ask for, which went wrong on shapes outside the fitted points: JAX,
    16 channels). The
    model's times have a 15-25% median error, and near a crossover a systematic one (a framework's kernel
    choice, an FFT length's factors) decides the pick; the margin corrects the decision where it matters,
    without bending the rates that the times were fitted with."""
    costs = [(min(r["rank"], 4), r, *predicted_costs(r, fitted, backend)) for r in records]
    margins = []
    for rank in RANKS:
        scored = []
        for margin in MARGINS:
            misses, regret = 0, 0.0
            for r_rank, r, direct, best, fft in costs:
                if r_rank != rank:
                    continue
                ratio = choice_ratio(r, pick(r, fitted, direct, best, fft, margin))
                misses += ratio > 1.15
                regret += math.log(ratio)
            scored.append(((misses, round(regret, 6)), margin))
        top = min(score for score, _ in scored)
        tied = {i for i, (score, _) in enumerate(scored) if score == top}
        one = MARGINS.index(min(MARGINS, key=lambda m: abs(math.log(m))))
        if one in tied:
            margins.append(1.0)  # the data do not ask for a correction: make none
            continue
        # The tied margin nearest to 1, then up to SAFETY_STEPS further from 1 while the tie holds.
        nearest = min(tied, key=lambda i: abs(i - one))
        step = 1 if nearest > one else -1
        chosen = nearest
        while abs(chosen - nearest) < SAFETY_STEPS and (chosen + step) in tied:
            chosen += step
        margins.append(MARGINS[chosen])
    return tuple(margins)


def report(records_by_backend, threads=1):
    lines, constants = [], {}
    for backend, records in records_by_backend.items():
        fitted, diagnostics = fit_backend(records, threads)
        fitted["fft_margin"] = fit_margins(records, fitted, backend)
        constants[backend] = {"fitted": fitted, "diagnostics": diagnostics}
        worst, right = 1.0, 0
        rows = []
        for r in records:
            margin = fitted["fft_margin"][min(r["rank"], 4) - 1]
            choice, _, _ = predicted_choice(r, fitted, backend, margin)
            measured = r["seconds"]
            ratio = choice_ratio(r, choice)
            worst = max(worst, ratio)
            right += ratio <= 1.15
            rows.append(f"| {backend} | {r['rank']}-D {r['size']}, k={r['k']}, B={r['batch']}, "
                        f"{r['channels']}->{r['filters']}, {r['padding']}, s={r['stride']} | "
                        + " | ".join(f"{measured[v] * 1e3:.2f}" if v in measured else "-" for v in VARIANTS)
                        + f" | {choice} | {ratio:.2f} |")
        constants[backend]["grid_within_1.15"] = f"{right}/{len(records)}"
        constants[backend]["grid_worst_ratio"] = worst
        lines += rows
    table = ["| backend | point | direct ms | whole, DFT kernel ms | whole, FFT kernel ms "
             "| blocks, DFT kernel ms | blocks, FFT kernel ms | model picks | picked / fastest |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|", *lines]
    return "\n".join(table), constants


def paste_block(constants):
    date = time.strftime("%Y-%m-%d")
    out = [f"# Fitted by benchmarks/calibrate_fft.py on {date} ({machine()}).", "COSTS = {"]
    for backend, c in constants.items():
        f = c["fitted"]
        direct = ", ".join(f"{r:.1f}" for r in f["direct_gflops"])
        fft = ", ".join(f"{r:.2f}" for r in f["fft_gflops"])
        out.append(f'    "{backend}": Costs(direct_overhead_us={f["direct_overhead_us"]:.1f}, '
                   f'direct_gflops=({direct}), direct_gbps={f["direct_gbps"]:.2f},')
        out.append(f'        fft_overhead_us={f["fft_overhead_us"]:.1f}, fft_gflops=({fft}), '
                   f'dft_gflops={f["dft_gflops"]:.2f}, product_gflops={f["product_gflops"]:.2f}, '
                   f'fft_gbps={f["fft_gbps"]:.2f},')
        out.append(f'        fft_margin=({", ".join(f"{m:.2f}" for m in f["fft_margin"])})),')
    out.append("}")
    return "\n".join(out)


def sweep_records(path):
    """The crossover-sweep points of a `benchmarks/fft.py --json` run as calibration records: the direct
    time and the time of the FFT plan that ran."""
    with open(path) as saved:
        saved = json.load(saved)
    by_backend = {}
    for r in saved["records"]:
        if r["part"] != "sweep" or "geometry" not in r:
            continue
        args = (r["rank"], r["size"], r["k"], 2, 8, 8, "same", 1)
        factor = BLOCK_FACTOR if r["geometry"] == "whole" else r["geometry"]
        lengths, direct, fft = features(*args, block_factor=factor, backend_name=r["backend"])
        way = "fft" if r["geometry"] == "whole" else "blocks"
        variant = f"{way}-{'dft' if r['kernel_by_dft'] else 'fft'}"
        by_backend.setdefault(r["backend"], []).append({
            "backend": r["backend"], "rank": r["rank"], "size": r["size"], "k": r["k"], "batch": 2,
            "channels": 8, "filters": 8, "padding": "same", "stride": 1, "lengths": lengths,
            "direct_terms": direct, "fft_terms": fft, "seconds": {"direct": r["direct"], variant: r["fft"]},
        })
    return by_backend


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small grid (smoke test, not for pasting)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--threads", type=int, default=0,
                        help="threads per framework (0: the frameworks' defaults, all cores)")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timed rounds per point")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements and the fit as JSON")
    parser.add_argument("--refit", metavar="PATH",
                        help="fit the times of an earlier --json run again (work terms recomputed by the "
                             "current model) instead of measuring")
    parser.add_argument("--also", metavar="PATH", action="append", default=[],
                        help="also fit the crossover sweep of a `benchmarks/fft.py --json` run (its points "
                             "record the FFT plan they ran); repeatable")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    budget = options.budget if options.budget is not None else (0.3 if options.quick else 1.0)
    grid = QUICK_GRID if options.quick else GRID
    if options.worker:
        limit_threads(options.threads)
        run_worker(options.worker, grid, budget)
        return
    started = time.perf_counter()
    records_by_backend = {}
    if options.refit:
        with open(options.refit) as saved:
            saved = json.load(saved)
        options.threads = saved["threads"]
        for backend, records in saved["records"].items():
            for r in records:
                args = (r["rank"], r["size"], r["k"], r["batch"], r["channels"], r["filters"], r["padding"],
                        r["stride"])
                r["lengths"], r["direct_terms"], r["fft_terms"] = features(*args, backend_name=backend)
            records_by_backend[backend] = records
    for backend in [] if options.refit else options.backends.split(","):
        arguments = ["--budget", str(budget), "--threads", str(options.threads)]
        found, ok = run_worker_process(__file__, backend, arguments + (["--quick"] if options.quick else []),
                                       3600)
        if not ok:
            raise SystemExit(f"{backend} worker failed")
        records_by_backend[backend] = found
    for path in options.also:
        for backend, records in sweep_records(path).items():
            records_by_backend.setdefault(backend, []).extend(records)
    threads = options.threads or os.cpu_count()
    if options.json and not options.refit:  # the measurements first, whatever happens to the fit
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "versions": versions(PACKAGES), "threads": threads,
                       "records": records_by_backend}, out, indent=2)
    table, constants = report(records_by_backend, threads)
    print(f"## FFT cost-model calibration{' (--quick)' if options.quick else ''}\n")
    print(f"Machine: {machine()}; {threads} thread(s) per framework.\n")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions(PACKAGES).items()) + "\n")
    print(table)
    print("\nFit (relative error of the model on the grid, median / max):\n")
    for backend, c in constants.items():
        d = c["diagnostics"]
        print(f"- {backend}: direct {d['direct_error_median']:.0%} / {d['direct_error_max']:.0%}, "
              f"fft {d['fft_error_median']:.0%} / {d['fft_error_max']:.0%}; the model's pick within 1.15x of "
              f"the fastest at {c['grid_within_1.15']} points (worst {c['grid_worst_ratio']:.2f}x)")
    print("\nPaste into src/structconv/ops/algorithm.py:\n\n```python")
    print(paste_block(constants))
    print("```")
    print(f"\nTotal run time: {time.perf_counter() - started:.0f} s.")
    if options.json:
        with open(options.json, "w") as out:
            json.dump({"machine": machine(), "versions": versions(PACKAGES), "threads": threads,
                       "records": records_by_backend, "constants": constants}, out, indent=2)


if __name__ == "__main__":
    main()
