"""The fit behind `structconv calibrate`: the cost model's constants from the times of a calibration grid.

Fits the model's rates by bounded least squares on relative error (every point weighs the same whatever its
size; the bounds keep the constants physical: rates below the threads' peak, overheads at least those of the
tiniest calls), how the direct algorithm's rate falls with few channels (a floor, `direct_min_channels`, a
half-rate point of channel pairs, `direct_channel_half`, and one of output channels, `direct_output_half`,
each chosen from a few values by the smallest mean log error: frameworks' convolutions of few channels run
far below their rate, 15 ms instead of 1 ms for a one-channel 1-D signal on TensorFlow, 21 Gflop/s for
torch's 8-channel 1-D convolution where 32 channels run several times faster, 6 Gflop/s for its 12 -> 1
channels), per rank the factor a gradient adds to each algorithm (`direct_training`, `fft_training`), per
rank the margin by which FFT must be modelled cheaper (fitted to the decisions: which candidate was
fastest, forward and with gradients), and above the backend's ranks along which channel axis the
decomposition stacks its peeled taps (by the times of both stackings), and on JAX the rate of XLA's own N-D
convolution above rank 3, timed beside the decomposition (`fit_native_nd`).

Records are `calibrate.measure_grid`'s: `{"problem", "rank", "tiny", "training", "times": {label: us},
"plans": {label: plan}}`. Pure fitting: nothing here times anything.
"""

import dataclasses
import math

import numpy as np

from structconv.ops import candidate_plans, cost_model, planner
from structconv.tuning import fingerprint
from structconv.tuning import profile as profiles

MIN_CHANNELS = (1, 2, 4, 8, 16)
CHANNEL_HALVES = (0.0, 4.0, 16.0, 64.0, 256.0)
OUTPUT_HALVES = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
CACHE_BYTES = tuple(2**n for n in range(18, 24))  # 256 KiB .. 8 MiB
BLOCK_MARGINS = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
TRAINING_BOUNDS = (1.0, 12.0)
TARGET = 1.15
# Bounds that keep the fitted constants physical: a core doing two 16-wide float32 FMAs per cycle at 2.6 GHz
# peaks at 166 Gflop/s; FFTs and spectral products stream complex data with shuffles: a quarter of that.
PEAK_GFLOPS_PER_THREAD = 166.0
FFT_PEAK_FRACTION = 0.25
PEAK_GBPS = 50.0
SLOWEST = 0.05
OVERHEAD_FLOOR = 0.8
RANKS = (1, 2, 3, 4)
FFT_TERMS = ("fft", "dft", "product", "memory")
# The most a kernel spectrum's DFT stage may take besides its flops (eager torch: about 0.1 ms), and the
# least gain in mean log error that keeps it.
DFT_STAGE_MAX_US = 1000.0
STAGE_GAIN = 0.01
STACKINGS = ("inputs", "filters")
STACKING_GAIN = math.log(1.1)
# Per rank from `profile.FEWER_CHANNELS_FIRST_RANK` (the last entry holds above): whether the side with
# fewer channels takes the peeled taps.
PER_RANK_FEWER = ((False, True), (True, False))
LARGE_TAPS_GAIN = 0.01
MARGINS = tuple(sorted({1.0, *(round(0.85 * 1.025**i, 3) for i in range(35))}))  # 0.85 .. 1.99


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
                rows.append([1.0, *[work["flops"] if rank == q and not large else 0.0 for q in RANKS],
                             work["memory"], *[work["flops"] if rank == q and large else 0.0 for q in RANKS]])
                times.append(micros)
        return _fit_relative(rows, times, [direct_floor] + [unit(peak)] * 4 + [unit(PEAK_GBPS)]
                             + [unit(peak)] * 4, [np.inf] + [unit(SLOWEST)] * 9)

    # The channel model with the smallest mean log error (ties: the simplest).
    fits = {(c, h, o): fit_direct((c, h, o))
            for c in MIN_CHANNELS for h in CHANNEL_HALVES for o in OUTPUT_HALVES}
    min_channels, half, output_half = min(
        fits, key=lambda m: (round(_mean_log_error(fits[m][1]), 3), m[2], m[1], m[0]))
    # Then per rank up to 3, a large-kernel threshold (one of the rank's kernel sizes, smallest first), kept
    # where it lowers the mean log error by more than LARGE_TAPS_GAIN below the best so far.
    large_taps = [0, 0, 0, 0]
    best_error = _mean_log_error(fits[(min_channels, half, output_half)][1])
    for rank in RANKS[:3]:
        sizes = sorted({max(r["problem"].kernel_size) for r in forward if r["rank"] == rank})
        for threshold in sizes[:-1]:
            trial = large_taps[: rank - 1] + [threshold] + large_taps[rank:]
            error = _mean_log_error(fit_direct((min_channels, half, output_half), trial)[1])
            if error < best_error - LARGE_TAPS_GAIN:
                best_error, large_taps = error, trial
    p_d, err_d, active_d = fit_direct((min_channels, half, output_half), large_taps)

    def fit_fft(cache_bytes, stages=False):
        rows, times = [], []
        for r in forward:
            rank = min(r["rank"], 4)
            for label, micros in r["times"].items():
                if label.startswith("fft"):
                    work = terms(r["problem"], r["plans"][label], cache_bytes)
                    rows.append([1.0, *[work["fft"] if rank == q else 0.0 for q in RANKS],
                                 *[work[name] for name in FFT_TERMS[1:]],
                                 *([work["dft_stages"]] if stages else [])])
                    times.append(micros)
        fitted, errors, active = _fit_relative(
            rows, times,
            [max(fft_floor, p_d[0])] + [unit(FFT_PEAK_FRACTION * peak)] * 4 + [unit(peak)]
            + [unit(FFT_PEAK_FRACTION * peak), unit(PEAK_GBPS)] + [0.0] * stages,
            [np.inf] + [unit(SLOWEST)] * 7 + [DFT_STAGE_MAX_US] * stages)
        return (fitted if stages else np.append(fitted, 0.0)), errors, active

    # The cache size with the smallest mean log error (ties: the largest); then the DFT's time per stage,
    # kept where it lowers the mean log error by more than STAGE_GAIN (eager torch: about 0.1 ms a stage;
    # where the executor is compiled it is noise, and fitting it moved the other constants).
    fits_f = {c: fit_fft(c) for c in CACHE_BYTES}
    cache_bytes = min(fits_f, key=lambda c: (round(_mean_log_error(fits_f[c][1]), 3),
                                             -c))
    p_f, err_f, active_f = fits_f[cache_bytes]
    staged = fit_fft(cache_bytes, stages=True)
    if _mean_log_error(staged[1]) < _mean_log_error(err_f) - STAGE_GAIN:
        p_f, err_f, active_f = staged

    def rate(value):
        return round(1e-3 / value, 3)

    direct_rates = [rate(p) for p in p_d[1:5]]
    # Ranks above 4 (decomposed) keep the shipped rates, scaled as the rank-4 rate moved.
    scale = direct_rates[3] / cost_model.per_rank(shipped.direct_gflops, 4)
    higher = [round(r * scale, 3) for r in shipped.direct_gflops[4:]]
    fitted = dataclasses.replace(
        shipped, direct_overhead_us=round(float(p_d[0]), 2), direct_gflops=tuple(direct_rates + higher),
        direct_gbps=rate(p_d[5]), direct_large_taps=tuple(large_taps),
        direct_large_gflops=tuple(rate(p) if t else 0.0 for p, t in zip(p_d[6:10], large_taps)),
        fft_overhead_us=round(float(p_f[0]), 2),
        fft_gflops=tuple(rate(p) for p in p_f[1:5]), dft_gflops=rate(p_f[5]), product_gflops=rate(p_f[6]),
        fft_gbps=rate(p_f[7]), dft_stage_us=round(float(p_f[8]), 2), direct_min_channels=min_channels,
        direct_channel_half=half,
        direct_output_half=output_half,
        fft_cache_bytes=cache_bytes)
    fitted = dataclasses.replace(fitted, native_nd_gflops=fit_native_nd(forward, fitted))
    fitted = dataclasses.replace(fitted, **fit_training(records, fitted))
    names_d = ["direct_overhead_us", *[f"direct_gflops[{q}]" for q in RANKS], "direct_gbps"]
    names_f = ["fft_overhead_us", *[f"fft_gflops[{q}]" for q in RANKS], "dft_gflops", "product_gflops",
               "fft_gbps", "dft_stage_us"]
    at_bound = [n for n, a in zip(names_d, active_d) if a] + [n for n, a in zip(names_f, active_f) if a]
    errors = {"direct_median": float(np.median(np.abs(err_d))), "direct_max": float(np.max(np.abs(err_d))),
              "fft_median": float(np.median(np.abs(err_f))), "fft_max": float(np.max(np.abs(err_f)))}
    return fitted, errors, at_bound


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


def model_pick(record, profile):
    """The label the model alone (no measuring) picks for a record's problem with `profile`."""
    problem = record["problem"]
    plans = candidate_plans.candidates(problem, profile)
    allowed = planner.allowed(problem, plans, "auto", profile, float("inf"))
    return allowed[0].label


def pick_ratio(record, label):
    """Measured time of the picked label over the fastest measured one (a label not timed counts as its
    geometry's other variant, else the slowest)."""
    times = record["times"]
    return times.get(label, max(times.values())) / min(times.values())


def _decision_score(records, profile):
    """How well the model alone decides `records` with `profile`: picks over `TARGET`, then the total log
    slowdown of its picks."""
    ratios = [pick_ratio(r, model_pick(r, profile)) for r in records]
    return sum(x > TARGET for x in ratios), round(sum(math.log(x) for x in ratios), 4)


def fit_margins(records, profile):
    """Per rank, the FFT margin with the fewest picks over `TARGET`, then the least total slowdown; 1 when
    1 is among the best (no correction the data do not ask for)."""
    margins = []
    for rank in RANKS:
        mine = [r for r in records if min(r["rank"], 4) == rank]
        scored = [(_decision_score(mine, dataclasses.replace(profile, costs=dataclasses.replace(
            profile.costs, fft_margin=tuple(margin if q == rank else 1.0 for q in RANKS)))), margin)
            for margin in MARGINS]
        best = min(score for score, _ in scored)
        tied = [margin for score, margin in scored if score == best]
        margins.append(1.0 if 1.0 in tied else min(tied, key=lambda m: abs(math.log(m))))
    return tuple(margins)


def fit_block_margin(records, profile):
    """The overlap-save margin (`BLOCK_MARGINS`) with the fewest picks over `TARGET`, then the least total
    slowdown; the profile's own when it is among the best."""
    scored = [(_decision_score(records, dataclasses.replace(profile, costs=dataclasses.replace(
        profile.costs, block_margin=margin))), margin) for margin in BLOCK_MARGINS]
    best = min(score for score, _ in scored)
    tied = [margin for score, margin in scored if score == best]
    return profile.costs.block_margin if profile.costs.block_margin in tied else tied[0]


def fit_stacking(records, strategy):
    """Along which channel axis the decomposition stacks its peeled taps, with a gradient
    (`decompose_stacking`; "filters" falls back to "inputs" above `decompose_filters_max_taps` peeled
    taps, a limit this sets or lifts to at most the most peeled taps timed with a gradient) and without
    (`decompose_stacking_inference`), and whether where the channels differ the side with fewer takes them
    (`decompose_fewer_channels[_inference]`, `candidate_plans.preferred_stacking`), from the records where
    both stackings were timed: the setting with the least total log slowdown of the stacking it picks against
    the faster of the two, where it beats `strategy`'s own by more than `STACKING_GAIN` (a few grid
    records decide it: a 10% difference on one must not flip it). By the times, not by the model's picks:
    where FFT wins, the stacking changes no pick on the grid, yet it is what `algorithm="direct"` and an
    exported graph run (TensorFlow's 4-D training steps ran 2.1-5.2x faster stacked along the filters on
    one AMD EPYC and 1.2-2.8x slower on another, where XLA's ran 2.6-8.3x slower though the shipped
    profile prefers the filters; on an AVX-512 AMD EPYC XLA's training steps ran 4-17x slower stacked
    along the filters with fewer input channels, and within 1.7x either way with fewer filters). The side
    with fewer channels may be taken at rank 3 and not above, or the reverse (`PER_RANK_FEWER`), where that
    beats the best single setting by `STACKING_GAIN` too: TensorFlow's Eigen kernels ran 3-D training steps
    with fewer inputs 1.5-2.1x faster stacked along the filters, and 4-D ones 1.5-3.9x slower (AMD EPYC
    without AVX-512)."""
    both = [r for r in records if {"direct:inputs", "direct:filters"} <= set(r["times"])]

    def best(records_, options, current):
        def loss(option):
            tried = dataclasses.replace(strategy, **option)
            picked = (r["times"]["direct:" + candidate_plans.preferred_stacking(r["problem"], tried)]
                      for r in records_)
            return sum(math.log(t / min(r["times"]["direct:inputs"], r["times"]["direct:filters"]))
                       for t, r in zip(picked, records_))

        fitted = min(options, key=loss)
        field = next(name for name in fitted if name.startswith("decompose_fewer_channels"))
        per_rank = min(({**fitted, field: flags} for flags in PER_RANK_FEWER), key=loss)
        if loss(per_rank) < loss(fitted) - STACKING_GAIN:
            fitted = per_rank
        return fitted if loss(fitted) < loss(current) - STACKING_GAIN else current

    # With a gradient, "filters" holds one stacked-output-sized gradient per peeled tap: no further than
    # the most taps timed (a TensorFlow profile fitted on 3-7 taps stacked 27 along the filters for a 6-D
    # step, which took over 10 GB).
    timed = max((candidate_plans.stacked_taps(r["problem"]) for r in both if r["training"]), default=1)
    limit = strategy.decompose_filters_max_taps
    limits = (timed,) if limit is None else tuple(dict.fromkeys((limit, max(limit, timed))))
    inference = best([r for r in both if not r["training"]],
                     [{"decompose_stacking_inference": s, "decompose_fewer_channels_inference": fewer}
                      for s in STACKINGS for fewer in (False, True)],
                     {"decompose_stacking_inference": strategy.decompose_stacking_inference,
                      "decompose_fewer_channels_inference": strategy.decompose_fewer_channels_inference})
    training = best([r for r in both if r["training"]],
                    [{"decompose_stacking": s, "decompose_fewer_channels": fewer,
                      "decompose_filters_max_taps": lim}
                     for s in STACKINGS for fewer in (False, True) for lim in limits],
                    {"decompose_stacking": strategy.decompose_stacking,
                     "decompose_fewer_channels": strategy.decompose_fewer_channels,
                     "decompose_filters_max_taps": limit})
    return {**training, **inference}


def fit_profile(records, backend_name, device, threads, cliff=None):
    """The calibrated `Profile` of timed `records` (`measure_grid`), the fit's errors and the constants on
    a bound: the rates (`fit_costs`), then the FFT margins and the overlap-save margin fitted to the
    decisions, and the measuring band. `cliff`: the backward cliff found (`backward_cliff.probe`)."""
    shipped = profiles.shipped_for(fingerprint.fingerprint(backend_name, device))
    if cliff is not None:
        shipped = dataclasses.replace(shipped, costs=dataclasses.replace(
            shipped.costs, direct_cliff_taps=cliff["direct_cliff_taps"],
            direct_cliff_gflops=cliff["direct_cliff_gflops"]))
    costs, errors, at_bound = fit_costs(records, shipped.costs, threads)
    fitted = dataclasses.replace(shipped, costs=costs, source="calibrated")
    margins = fit_margins(records, fitted)
    fitted = dataclasses.replace(fitted, costs=dataclasses.replace(costs, fft_margin=margins))
    fitted = dataclasses.replace(fitted, costs=dataclasses.replace(
        fitted.costs, block_margin=fit_block_margin(records, fitted)))
    fitted = dataclasses.replace(fitted, strategy=dataclasses.replace(
        fitted.strategy, **fit_stacking(records, fitted.strategy)))
    # The model's ratio of two candidates can be off by as much as both of its worst errors together.
    uncertainty = round(min(10.0, max(2.0, (1.0 + errors["direct_max"]) * (1.0 + errors["fft_max"]))), 2)
    return dataclasses.replace(fitted, uncertainty=uncertainty), errors, at_bound
