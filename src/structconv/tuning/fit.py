"""The fit behind `structconv calibrate`: a profile from the times of a calibration grid.

The rates come first (`tuning.fit_rates`); then, fitted to the decisions (which candidate was fastest,
forward and with gradients), per rank the margin by which FFT must be modelled cheaper and the overlap-save
margin, and above the backend's ranks along which channel axis the decomposition stacks its peeled taps
(by the times of both stackings); last the measuring band from the fit's errors.

Records are `calibrate.measure_grid`'s: `{"problem", "rank", "tiny", "training", "times": {label: us},
"plans": {label: plan}}`. Pure fitting: nothing here times anything.
"""

import dataclasses
import math

from structconv.ops import candidate_plans, planner
from structconv.tuning import fingerprint
from structconv.tuning import profile as profiles
from structconv.tuning.fit_rates import RANKS, fit_costs

BLOCK_MARGINS = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
TARGET = 1.15
STACKINGS = ("inputs", "filters")
STACKING_GAIN = math.log(1.1)
# Per rank from `profile.FEWER_CHANNELS_FIRST_RANK` (the last entry holds above): whether the side with
# fewer channels takes the peeled taps.
PER_RANK_FEWER = ((False, True), (True, False))
MARGINS = tuple(sorted({1.0, *(round(0.85 * 1.025**i, 3) for i in range(35))}))  # 0.85 .. 1.99
# A margin other than 1 is fitted only where it decides at least this many more of the grid's picks within
# `TARGET` than 1 does. One pick of a grid of about 70 shapes is within the timing's noise: torch's block
# margin fitted to 1.25 that way gained one grid pick and lost four of 61 held-out ones (session 29's
# replay data, `benchmarks/planner_replay.py`; 2-vCPU AMD EPYC without AVX-512).
MARGIN_GAIN = 2


def model_pick(record, profile):
    """The label the model alone (no measuring) picks for a record's problem with `profile`."""
    problem = record["problem"]
    plans = candidate_plans.candidates(problem, profile)
    allowed = planner.allowed(problem, plans, "auto", profile, float("inf"))
    return allowed[0].label


def pick_ratio(record, label):
    """Measured time of the picked label over the fastest measured one. The grid times each overlap-save
    geometry by one kernel transform only: an FFT label not timed counts as the slowest timed plan of its
    geometry, a label with none as the slowest of all (`benchmarks/planner_replay.py` times every candidate
    of its held-out shapes for that reason). Counted as the slowest of all, JAX's picks of packed block
    plans (`Costs.packed_factor`) pushed its fitted rank-1 FFT margin to 1.46 at one grid, which then
    picked within 1.15x at 19 of 30 held-out long 1-D problems; by their geometry's time, 1.0 and 23
    (session 49)."""
    times = record["times"]
    if label not in times and label.startswith("fft:"):
        geometry = ":".join(label.split(":")[:2]) + ":"
        siblings = [t for other, t in times.items() if other.startswith(geometry)]
        if siblings:
            return max(siblings) / min(times.values())
    return times.get(label, max(times.values())) / min(times.values())


def _decision_score(records, profile):
    """How well the model alone decides `records` with `profile`: picks over `TARGET`, then the total log
    slowdown of its picks."""
    ratios = [pick_ratio(r, model_pick(r, profile)) for r in records]
    return sum(x > TARGET for x in ratios), round(sum(math.log(x) for x in ratios), 4)


def fitted_margin(scores):
    """The margin of `scores` (`{margin: _decision_score}`, 1 among them) with the fewest picks over
    `TARGET`, then the least total slowdown, where it has at least `MARGIN_GAIN` fewer picks over `TARGET`
    than 1; else 1 (no correction the data do not clearly ask for)."""
    best = min(scores, key=lambda margin: (scores[margin], abs(math.log(margin))))
    return best if scores[best][0] <= scores[1.0][0] - MARGIN_GAIN else 1.0


def fit_margins(records, profile):
    """Per rank, the FFT margin fitted to the rank's records (`fitted_margin`)."""
    margins = []
    for rank in RANKS:
        mine = [r for r in records if min(r["rank"], 4) == rank]
        margins.append(fitted_margin({margin: _decision_score(mine, dataclasses.replace(
            profile, costs=dataclasses.replace(profile.costs, fft_margin=tuple(
                margin if q == rank else 1.0 for q in RANKS)))) for margin in MARGINS}))
    return tuple(margins)


def fit_block_margin(records, profile):
    """The overlap-save margin of `BLOCK_MARGINS` fitted to the records (`fitted_margin`)."""
    return fitted_margin({margin: _decision_score(records, dataclasses.replace(
        profile, costs=dataclasses.replace(profile.costs, block_margin=margin))) for margin in BLOCK_MARGINS})


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
    without AVX-512). Not fitted, but carried from `strategy`: the count of filters from which the forward
    decomposition stacks along the inputs (`decompose_inputs_min_filters_inference`). Where it matters, at
    big 3-D volumes, the two stackings differ by up to 2x; at the grid's small ones by 1.03-1.15x either
    way from one timing to the next, and a fit to them came out as none in two calibrations of one machine
    and as 8 filters in a third timing (a big volume in the grid took XLA's calibration past its
    budget)."""
    both = [r for r in records if {"direct:inputs", "direct:filters"} <= set(r["times"])]

    def best(records_, options, current):
        def loss(option):
            return _stacking_loss(records_, dataclasses.replace(strategy, **option))

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


def _stacking_loss(records, strategy):
    """The total log slowdown of the stacking `strategy` picks (`candidate_plans.preferred_stacking`) at
    `records` (both stackings timed) against the faster of the two."""
    def slowdown(r):
        picked = r["times"]["direct:" + candidate_plans.preferred_stacking(r["problem"], strategy)]
        return math.log(picked / min(r["times"]["direct:inputs"], r["times"]["direct:filters"]))

    return sum(slowdown(r) for r in records)


def fit_profile(records, backend_name, device, threads, cliff=None, probed=None):
    """The calibrated `Profile` of timed `records` (`measure_grid`), the fit's errors and the constants on
    a bound: the rates (`fit_costs`), then the FFT margins and the overlap-save margin fitted to the
    decisions, and the measuring band. `cliff`: the backward cliff found (`backward_cliff.probe`);
    `probed`: the strategy settings calibration's probes found (`{name: value}` of `profile.PROBED`: the
    FFT lengths the records' plans ran at, `fft_lengths.probe`; the odd channel factors,
    `odd_channels.probe`; None: the shipped profile's)."""
    shipped = profiles.with_probed(profiles.shipped_for(fingerprint.fingerprint(backend_name, device)),
                                   probed or {})
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
