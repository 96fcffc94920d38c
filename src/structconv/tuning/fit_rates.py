"""The cost model's rates behind `structconv calibrate`, fitted to the times of a calibration grid.

Fits the model's rates by bounded least squares on relative error (every point weighs the same whatever its
size; the bounds keep the constants physical: rates below the threads' peak (direct ones below 4x it, the
rates of the channel model's flops), overheads at least those of the
tiniest calls), how the direct algorithm's rate falls with few channels (a floor, `direct_min_channels`, a
half-rate point of channel pairs, `direct_channel_half`, and one of output channels, `direct_output_half`,
each chosen from a few values by the smallest mean log error: frameworks' convolutions of few channels run
far below their rate, 15 ms instead of 1 ms for a one-channel 1-D signal on TensorFlow, 21 Gflop/s for
torch's 8-channel 1-D convolution where 32 channels run several times faster, 6 Gflop/s for its 12 -> 1
channels), per rank the factor a gradient adds to each algorithm (`direct_training`, `fft_training`), and on
JAX the rate of XLA's own N-D convolution above rank 3, timed beside the decomposition (`fit_native_nd`).
The decisions fitted on top of these rates are `tuning.fit`'s.

Records are `calibrate.measure_grid`'s: `{"problem", "rank", "tiny", "training", "times": {label: us},
"plans": {label: plan}}`. Pure fitting: nothing here times anything.
"""

import dataclasses
import math

import numpy as np

from structconv.ops import candidate_plans, cost_model

MIN_CHANNELS = (1, 2, 4, 8, 16)
CHANNEL_HALVES = (0.0, 4.0, 16.0, 64.0, 256.0)
OUTPUT_HALVES = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
CACHE_BYTES = tuple(2**n for n in range(18, 24))  # 256 KiB .. 8 MiB
TRAINING_BOUNDS = (1.0, 12.0)
# Bounds that keep the fitted constants physical: a core doing two 16-wide float32 FMAs per cycle at 2.6 GHz
# peaks at 166 Gflop/s; FFTs and spectral products stream complex data with shuffles: a quarter of that.
PEAK_GFLOPS_PER_THREAD = 166.0
# The direct rates may reach this many times that: they are rates of the channel model's flops (each flop
# counted `1 + half / pairs + output_half / outs` times), and the libraries' convolutions of small kernels
# (oneDNN's Winograd) do fewer flops than the direct count. At 1x, torch's rates of ranks 1-4 and
# TensorFlow's of ranks 1-3 all sat on the bound, and the channel model bent to make up for it: a 1-thread
# TensorFlow fit of (4 channels, 64 pairs, 0) priced a 2-D 179^2 k=7 1 -> 12 forward at 4.4 ms, run in 0.77
# (FFT picked, 6.59x). At 4x, fitted on the same grid times: median direct error 0.23 -> 0.14 (torch, 2
# threads) and 0.24 -> 0.15 (TensorFlow, 1 thread); held out (`benchmarks/fft.py --profiles`, seeds 476
# and 477) the model alone within 1.15x at 29 of 33 points against 28 (torch), 31 against 30 (TensorFlow),
# 29 against 29 (JAX); session 47, 2-vCPU Intel Xeon with AVX-512.
DIRECT_PEAK_FACTOR = 4.0
FFT_PEAK_FRACTION = 0.25
PEAK_GBPS = 50.0
SLOWEST = 0.05
OVERHEAD_FLOOR = 0.8
# The ranks with constants of their own (the last holds for higher ranks).
RANKS = (1, 2, 3, 4)
FFT_TERMS = ("fft", "dft", "product", "memory")
# The most a kernel spectrum's DFT stage may take besides its flops (eager torch: about 0.1 ms), and the
# least gain in mean log error that keeps it.
DFT_STAGE_MAX_US = 1000.0
STAGE_GAIN = 0.01
# The factors a packed FFT plan's model may take (`Costs.packed_factor`). JAX's 1-D plans in overlap-save
# blocks ran 1.2-1.4x faster by DFT with packed pairs than by FFT, modelled alike (fft:16:dft:packed
# against fft:16:fft:loop); refitted with the factor (0.8 at both of this VM's grids, and `fit.pick_ratio`
# scoring untimed block picks by their geometry), the model alone picked within 1.15x at 88 of 108 held-out
# JAX problems with either grid, instead of 81 and 82 (session 49, 2-vCPU Intel Xeon).
PACKED_FACTORS = (0.6, 0.7, 0.8, 0.9, 1.1)
PACKED_GAIN = 0.002
LARGE_TAPS_GAIN = 0.01
# A rate of its own (a large-kernel threshold's either side) needs this many records that are not tiny:
# three of four grids of JAX timed on one machine put rank 2's threshold at 3 taps, below it only the grid's
# 8^2 single-channel call (overhead, 0.02 ms), and priced every 2-D 3x3 convolution at 5-10 Gflop/s
# (a 2-D 64^2 16 -> 16 batch of 8: 38-52 ms modelled; session 48, 2-vCPU Intel Xeon).
RATE_RECORDS = 3
# The most a decomposition may take a call besides its convolution (`Costs.direct_decompose_us`).
DECOMPOSE_MAX_US = 10000.0

def terms(problem, plan, cache_bytes=cost_model.FFT_CACHE_BYTES, channel_model=(1, 0.0, 0.0)):
    """The model's work terms of `plan` (direct: flops and bytes, at least `channel_model[0]` channels,
    the half-rate point `channel_model[1]` of channel pairs and `channel_model[2]` of output channels,
    above rank 3 of the decomposition's stacked channels, as
    `cost_model.direct_us` prices them; FFT: per
    `FFT_TERMS` and the DFT's `dft_stages`, an axis's pass out of cache above `cache_bytes`)."""
    if plan.algorithm == "direct":
        return cost_model.direct_terms(problem.planned_batch, problem.outputs, problem.kernel_size,
                                       problem.channels, problem.filters, problem.groups, problem.padded,
                                       problem.itemsize, *channel_model[:2],
                                       candidate_plans.stacked_taps(problem),
                                       candidate_plans.stacked_along(problem, plan.direct), channel_model[2])
    f = plan.fft
    return cost_model.fft_terms(problem.planned_batch * math.prod(f.counts), problem.channels,
                                problem.filters, problem.groups, f.lengths, problem.kernel_size,
                                problem.itemsize,
                                f.kernel_transform == "dft", sum(c > 1 for c in f.counts),
                                f.product == "packed", problem.backend, cache_bytes)


def _fit_relative(columns, micros, lower, upper):
    from scipy.optimize import lsq_linear

    a, t = np.asarray(columns, np.float64), np.asarray(micros, np.float64)
    solution = lsq_linear(a / t[:, None], np.ones_like(t), bounds=(lower, upper))
    return solution.x, a @ solution.x / t - 1, solution.active_mask


def _mean_log_error(errors):
    return float(np.mean(np.abs(np.log1p(np.maximum(errors, -0.99)))))


def fit_costs(records, shipped, threads):
    """Fitted `Costs` (rates of ranks 1-4, overheads, bandwidths, the direct algorithm's channel model),
    the fit's errors and the constants that ended on a bound. Only forward records are fitted."""
    peak = PEAK_GFLOPS_PER_THREAD * threads
    forward = [r for r in records if not r.get("training")]
    tiny = [r for r in forward if r["tiny"]] or forward
    direct_floor = OVERHEAD_FLOOR * min(t for r in tiny for k, t in r["times"].items() if k.startswith("d"))
    fft_floor = OVERHEAD_FLOOR * min(t for r in tiny for k, t in r["times"].items() if k.startswith("f"))

    def unit(rate):
        return 1.0 / (rate * 1e3)

    def fit_direct(channel_model, large_taps=(0, 0, 0, 0)):
        rows, times = [], []
        for r in forward:
            rank = min(r["rank"], 4)
            for label, micros in r["times"].items():
                if not label.startswith("direct") or _decomposed(r) and label != _faster_stacking(r):
                    continue  # XLA's N-D convolution beside it has its own rate, the slower stacking 1.5x
                work = terms(r["problem"], r["plans"][label], channel_model=channel_model)
                large = cost_model.large_kernel(large_taps, rank, r["problem"].kernel_size)
                decomposed = candidate_plans.stacked_taps(r["problem"]) > 1
                rows.append([1.0, float(decomposed),
                             *[work["flops"] if rank == q and not large else 0.0 for q in RANKS],
                             work["memory"], *[work["flops"] if rank == q and large else 0.0 for q in RANKS]])
                times.append(micros)
        direct_peak = DIRECT_PEAK_FACTOR * peak
        return _fit_relative(rows, times, [direct_floor, 0.0] + [unit(direct_peak)] * 4 + [unit(PEAK_GBPS)]
                             + [unit(direct_peak)] * 4, [np.inf, DECOMPOSE_MAX_US] + [unit(SLOWEST)] * 9)

    # The channel model with the smallest mean log error (ties: the simplest).
    fits = {(c, h, o): fit_direct((c, h, o))
            for c in MIN_CHANNELS for h in CHANNEL_HALVES for o in OUTPUT_HALVES}
    min_channels, half, output_half = min(
        fits, key=lambda m: (round(_mean_log_error(fits[m][1]), 3), m[2], m[1], m[0]))
    # Then per rank up to 3, a large-kernel threshold (one of the rank's kernel sizes, smallest first), kept
    # where it lowers the mean log error by more than LARGE_TAPS_GAIN below the best so far and leaves at
    # least RATE_RECORDS forward records of the rank that are not tiny on each side (`_rate_sides`).
    large_taps = [0, 0, 0, 0]
    best_error = _mean_log_error(fits[(min_channels, half, output_half)][1])
    for rank in RANKS[:3]:
        sizes = sorted({max(r["problem"].kernel_size) for r in forward if r["rank"] == rank})
        for threshold in [t for t in sizes[:-1] if min(_rate_sides(forward, rank, t)) >= RATE_RECORDS]:
            trial = large_taps[: rank - 1] + [threshold] + large_taps[rank:]
            error = _mean_log_error(fit_direct((min_channels, half, output_half), trial)[1])
            if error < best_error - LARGE_TAPS_GAIN:
                best_error, large_taps = error, trial
    p_d, err_d, active_d = fit_direct((min_channels, half, output_half), large_taps)

    def fit_fft(cache_bytes, stages=False, packed_factor=1.0):
        rows, times = [], []
        for r in forward:
            rank = min(r["rank"], 4)
            for label, micros in r["times"].items():
                if label.startswith("fft"):
                    work = terms(r["problem"], r["plans"][label], cache_bytes)
                    row = [1.0, *[work["fft"] if rank == q else 0.0 for q in RANKS],
                           *[work[name] for name in FFT_TERMS[1:]], *([work["dft_stages"]] if stages else [])]
                    factor = packed_factor if _packed(r["plans"][label]) else 1.0
                    rows.append([factor * term for term in row])  # a packed plan's time: factor x its terms
                    times.append(micros)
        fitted, errors, active = _fit_relative(
            rows, times,
            [max(fft_floor, p_d[0])] + [unit(FFT_PEAK_FRACTION * peak)] * 4 + [unit(peak)]
            + [unit(FFT_PEAK_FRACTION * peak), unit(PEAK_GBPS)] + [0.0] * stages,
            [np.inf] + [unit(SLOWEST)] * 7 + [DFT_STAGE_MAX_US] * stages)
        return (fitted if stages else np.append(fitted, 0.0)), errors, active

    # At each cache size and factor of plans that pack two batch items into one complex FFT (XLA's complex
    # FFTs run faster than its real ones; only JAX's grid times such plans): the DFT's time per stage, kept
    # where it lowers the mean log error by more than STAGE_GAIN (eager torch: about 0.1 ms a stage; where
    # the executor is compiled it is noise, and fitting it moved the other constants). Packed plans are
    # DFT plans: a stage time and a factor both explain their times, and are fitted together. Then the
    # factor: the best of PACKED_FACTORS where it lowers the mean log error by more than PACKED_GAIN, else 1.
    factors = (1.0, *PACKED_FACTORS) if any(
        _packed(plan) for r in forward for plan in r["plans"].values()) else (1.0,)

    def fit_staged(cache_bytes, factor):
        plain, staged = (fit_fft(cache_bytes, stages, factor) for stages in (False, True))
        return staged if _mean_log_error(staged[1]) < _mean_log_error(plain[1]) - STAGE_GAIN else plain

    def fit_packed(cache_bytes):
        fits = {factor: fit_staged(cache_bytes, factor) for factor in factors}
        best = min(fits, key=lambda factor: _mean_log_error(fits[factor][1]))
        factor = best if _mean_log_error(fits[best][1]) < _mean_log_error(fits[1.0][1]) - PACKED_GAIN else 1.0
        return factor, fits[factor]

    # The cache size with the smallest mean log error (ties: the smallest, which prices long transforms out
    # of cache: the grid barely tells the sizes apart, and torch's fits forced to 256 KiB picked within 1.15x
    # at 19 and 20 of 30 long 1-D problems, at 1-2 MiB 16-17; one of two calibrations here had tied 256 KiB
    # with 1 MiB and taken 1 MiB, which then ran a 1-D 65536 k=129 forward by FFT at 2.85x; session 48,
    # 2-vCPU Intel Xeon; JAX's picks the same at every size).
    fits_f = {c: fit_packed(c) for c in CACHE_BYTES}
    cache_bytes = min(fits_f, key=lambda c: (round(_mean_log_error(fits_f[c][1][1]), 3), c))
    packed_factor, (p_f, err_f, active_f) = fits_f[cache_bytes]

    def rate(value):
        return round(1e-3 / value, 3)

    direct_rates = [rate(p) for p in p_d[2:6]]
    # Ranks above 4 (decomposed) keep the shipped rates, scaled as the rank-4 rate moved.
    scale = direct_rates[3] / cost_model.per_rank(shipped.direct_gflops, 4)
    higher = [round(r * scale, 3) for r in shipped.direct_gflops[4:]]
    fitted = dataclasses.replace(
        shipped, direct_overhead_us=round(float(p_d[0]), 2), direct_decompose_us=round(float(p_d[1]), 2),
        direct_gflops=tuple(direct_rates + higher),
        direct_gbps=rate(p_d[6]), direct_large_taps=tuple(large_taps),
        direct_large_gflops=tuple(rate(p) if t else 0.0 for p, t in zip(p_d[7:11], large_taps)),
        fft_overhead_us=round(float(p_f[0]), 2),
        fft_gflops=tuple(rate(p) for p in p_f[1:5]), dft_gflops=rate(p_f[5]), product_gflops=rate(p_f[6]),
        fft_gbps=rate(p_f[7]), dft_stage_us=round(float(p_f[8]), 2), direct_min_channels=min_channels,
        direct_channel_half=half,
        direct_output_half=output_half,
        fft_cache_bytes=cache_bytes, packed_factor=packed_factor)
    fitted = dataclasses.replace(fitted, native_nd_gflops=fit_native_nd(forward, fitted))
    fitted = dataclasses.replace(fitted, **fit_training(records, fitted))
    names_d = ["direct_overhead_us", "direct_decompose_us", *[f"direct_gflops[{q}]" for q in RANKS],
               "direct_gbps"]
    names_f = ["fft_overhead_us", *[f"fft_gflops[{q}]" for q in RANKS], "dft_gflops", "product_gflops",
               "fft_gbps", "dft_stage_us"]
    at_bound = [n for n, a in zip(names_d, active_d) if a] + [n for n, a in zip(names_f, active_f) if a]
    errors = {"direct_median": float(np.median(np.abs(err_d))), "direct_max": float(np.max(np.abs(err_d))),
              "fft_median": float(np.median(np.abs(err_f))), "fft_max": float(np.max(np.abs(err_f)))}
    return fitted, errors, at_bound


def _packed(plan):
    """Whether `plan` is an FFT plan that packs two batch items into one complex FFT."""
    return plan.fft is not None and plan.fft.product == "packed"


def _rate_sides(forward, rank, threshold):
    """How many forward records of `rank` that are not tiny have kernels of at most `threshold` taps along
    their longest axis, and how many of more: the records each side's rate would be fitted to."""
    taps = [max(r["problem"].kernel_size) for r in forward if r["rank"] == rank and not r["tiny"]]
    return sum(t <= threshold for t in taps), sum(t > threshold for t in taps)


def _decomposed(record):
    """Whether a record timed the decomposition (ranks above the backend's own)."""
    return any(label in record["times"] for label in ("direct:inputs", "direct:filters"))


def _faster_stacking(record):
    """The label of the decomposition's faster stacking in a record: the model prices the preferred one
    (`fit_stacking` prefers the faster) at the direct rate, the other at `UNMODELLED_FACTOR` of it."""
    timed = [label for label in ("direct:inputs", "direct:filters") if label in record["times"]]
    return min(timed, key=record["times"].get)


def fit_native_nd(forward, costs):
    """`Costs.native_nd_gflops`: the median rate of XLA's own N-D convolution over the forward records that
    timed it beside the decomposition, its flops (no channel model) over its time less the direct fit's
    overhead and memory time; `costs`' own where none did (other backends). Before, calibration fitted the
    rank-4 rate to it, which the model then gave the decomposition: 2.7-7x the decomposition's times on
    JAX (1 thread of an AMD EPYC), and a 4-D k=2 problem priced for FFT at 6.8x direct's time."""
    rates = []
    for r in forward:
        # Rank 3 (decomposed on JAX's CPU) left out: XLA's 3-D convolution ran at 10-20 Gflop/s at two
        # shapes of benchmarks/direct_rank3.py, where calibration fitted 5.4-5.7 to the N-D one (AMD EPYC);
        # priced at the N-D rate it stays out of the model's picks, where it ran 1.7-64x slower than the
        # decomposition, and measuring times it where the model is unsure.
        if "direct:native" not in r["times"] or not _decomposed(r) or r["rank"] <= 3:
            continue
        p, micros = r["problem"], r["times"]["direct:native"]
        work = cost_model.direct_terms(p.planned_batch, p.outputs, p.kernel_size, p.channels, p.filters,
                                       p.groups, p.padded, p.itemsize)
        compute = micros - costs.direct_overhead_us - work["memory"] / (costs.direct_gbps * 1e3)
        rates.append(work["flops"] / (max(compute, 0.1 * micros) * 1e3))
    return round(float(np.median(rates)), 3) if rates else costs.native_nd_gflops


def fit_training(records, costs):
    """Per rank, forward + backward time over forward time of the fastest direct and of the fastest FFT
    plan of each problem timed both ways (the median over the rank's problems; ranks without one keep
    `costs`' factors; the last entry holds for higher ranks); problems past `costs`' backward cliff
    (`tuning.backward_cliff`) are left out."""
    forward = {r["problem"].key(): r for r in records if not r.get("training")}
    ratios = {"direct": {}, "fft": {}}
    for r in records:
        if not r.get("training") or candidate_plans.backward_cliff_us(r["problem"], costs):
            continue  # past the backward cliff, direct is priced by its own term
        base = forward.get(dataclasses.replace(r["problem"], training=False).key())
        if base is None:
            continue
        for algorithm in ratios:
            trained = [t for label, t in r["times"].items() if label.startswith(algorithm)]
            plain = [t for label, t in base["times"].items() if label.startswith(algorithm)]
            if trained and plain:
                ratios[algorithm].setdefault(min(r["rank"], 4), []).append(min(trained) / min(plain))
    fitted = {}
    for algorithm, field in (("direct", "direct_training"), ("fft", "fft_training")):
        old = getattr(costs, field)
        fitted[field] = tuple(
            round(float(np.clip(np.median(ratios[algorithm][q]), *TRAINING_BOUNDS)), 3)
            if q in ratios[algorithm] else cost_model.per_rank(old, q) for q in RANKS)
    return fitted
