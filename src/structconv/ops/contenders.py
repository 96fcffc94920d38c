"""Which candidate plans measured planning times, and when times already measured decide without timing.

Pure Python over the candidate `Plan`s priced by the cost model (`ops.candidate_plans.candidates`), cheapest
first: the band of modelled times that is timed (`measuring_band`), the contenders in it
(`pick_contenders`), what their times call for next (`follow_ups`: the other FFT families, where the times
leave them a chance, and the overlap-save `neighbours` of a blocked winner), which timed plan wins
(`fastest`), and whether times measured earlier for the same problem, under another `algorithm` ("auto",
"direct", "fft"), already cover what this one would time (`reusable`).
"""

import math

from structconv.ops.plan import KERNEL_TRANSFORMS

# At most this many candidates are timed per problem (`pick_contenders`).
MAX_MEASURED = 5
# "uncertain" mode times what is modelled within the profile's `uncertainty` of the cheapest, and never
# less than this factor: on shapes outside a calibration's grid the calibrated model was 3-5x off where its
# own fit said 3.3x (torch's 1-D direct convolution with 31-511 taps, 4-D decompositions; issue 13).
MIN_BAND = 5.0
# ... and the cheapest FFT plan and every direct method modelled within this factor: the misses such a band
# left on held-out shapes were torch's 4-D decompositions, modelled 4-10x slower than they ran.
WIDE_BAND = 20.0
# A direct plan timed within this factor of the fastest FFT plan is kept (`fastest`): FFT plans' times
# spread more from one measurement to the next (JAX, 3-D 27x29x58, k=2x2x2: FFT measured at 3.50 ms
# against direct's 3.52, then timed at 4.02-5.29 ms against 3.63-4.01; issue 13's slow FFT phases), and
# direct is exact to float32 rounding where FFT's small outputs are not (docs/fft.md).
DIRECT_TIE = 1.05
# The overlap-save neighbours of the fastest FFT plan timed are timed too where it is within this factor of
# the fastest plan of all: the next block count ran up to 2x faster (JAX, a 1-D 16913-sample k=53 16 -> 16
# training step: blocks of 8 timed 18.0 ms, direct 13.3, blocks of 16 9.1, which only algorithm="fft"
# timed; Intel Xeon, 2 threads).
FFT_NEIGHBOURS_WITHIN = 2.0
# ... and those of the fastest overlap-save plan by each kernel transform where it is within this factor
# of the fastest plan of all: JAX, a 1-D 12000-sample k=61 4 -> 4 training step, blocks of 8 by FFT timed
# 1.43 ms and by DFT with packed pairs 1.51, and blocks of 16 by DFT ran in 1.07, never timed (1.33x;
# `benchmarks/planner_replay.py`, every held-out candidate timed, session 39: measured planning then within
# 1.15x at 61 of 61 shapes a backend, timing 2-5% more candidates, against 60 of 61 on JAX).
TRANSFORM_NEIGHBOURS_WITHIN = 1.25


def measuring_band(profile, mode="uncertain"):
    """How far above the cheapest modelled plan candidates are timed: the profile's `uncertainty`, at
    least `MIN_BAND`; unbounded in "always" mode."""
    return math.inf if mode == "always" else max(profile.uncertainty, MIN_BAND)


def family(plan):
    """Which kind of way `plan` is: a direct method (onto its rank, by its grouping, on even channels or
    not, in its working dtype), or FFT whole or in blocks by one kernel transform."""
    if plan.algorithm == "direct":
        return ("direct", plan.direct, plan.onto, plan.grouping, plan.even_channels, plan.padded_row,
                plan.working_dtype)
    return ("fft", plan.fft.blocked, plan.fft.kernel_transform)


def _way(plan):
    """`family` without the working dtype."""
    return family(plan)[:6]


def pick_contenders(permitted, band, limit=MAX_MEASURED):
    """The plans to time first: of those modelled within `band` of the cheapest, the cheapest of each
    `family`, then the next cheapest, at most `limit`, cheapest first. Families first: the model errs most
    between kinds of way (a direct method 5x off its rate, one kernel transform 4x slower than the other),
    and the cheapest few by the model alone were often all one kind (overlap-save blocks of 2, 4, 8, 16).
    Within `WIDE_BAND` (beyond `limit`), the cheapest FFT plan and every direct method (in one working
    dtype: a half-precision problem's own dtype is priced at its measured ratio to the widened one) are
    timed too. A
    plan whose modelled time holds a part the model should not trust (`Plan.uncertain_us`: the 1-D
    backward cliff, probed at batch 1, which moves with the batch and the channels) is timed where it
    would be in the band without it (`autotune` stops timing a candidate whose one call shows it far
    slower than the others). What their times call for next: `follow_ups`."""
    within_of = permitted[0].modelled_us
    within = [p for p in permitted if p.modelled_us <= within_of * band]
    firsts, seen = [], set()
    for plan in within:
        if family(plan) not in seen:
            seen.add(family(plan))
            firsts.append(plan)
    chosen = (firsts + [p for p in within if p not in firsts])[:limit]
    wide = within_of * max(band, WIDE_BAND)
    for plan in permitted:
        if plan.modelled_us <= wide and (_way(plan) not in map(_way, chosen) if plan.algorithm == "direct"
                                         else not any(p.algorithm == "fft" for p in chosen)):
            chosen.append(plan)
    for plan in permitted:  # where it would be in the band without the part the model doubts
        trusted_us = plan.modelled_us - plan.uncertain_us
        if plan.uncertain_us and plan not in chosen and trusted_us <= within_of * band:
            chosen.append(plan)
    return sorted(chosen, key=lambda plan: plan.modelled_us)


def follow_ups(permitted, times, band):
    """The plans of `permitted` to time next, given `times` (`{label: microseconds}` measured so far):

    - once an FFT plan is timed, the cheapest of each FFT family not yet timed that is modelled within
      `band` of the cheapest FFT plan, as algorithm="fft" would time them, where its time predicted from
      the FFT plans timed (its modelled time at the lowest ratio of measured to modelled time among them)
      is within `band` of the fastest time measured. A band measured from a direct plan the model prices
      far too cheap leaves FFT variants out (torch, 3-D 32^3, k=4, one channel, a training step: direct
      modelled at 0.16 ms ran in 5 ms, so the whole transform by FFT, modelled 11.2x the direct plan, was
      never timed, and the one by DFT that was ran 1.15x slower); where the times show the direct plan
      priced right, the FFT families far behind it are not worth a call (TensorFlow, 4-D 15^4, k=2,
      48 -> 48, one thread: direct 72 ms, the FFT families 0.7-1.5 s a call, one 25 s to its first,
      measuring took 39 s);
    - the `neighbours` of the fastest plan timed, of the fastest FFT plan timed where it is within
      `FFT_NEIGHBOURS_WITHIN` of that, and of the fastest overlap-save plan timed by each kernel transform
      where it is within `TRANSFORM_NEIGHBOURS_WITHIN` of that.
    """
    timed = [p for p in permitted if times.get(p.label) is not None]
    if not timed:
        return []
    fastest = min(timed, key=lambda plan: times[plan.label])
    timed_ffts = [p for p in timed if p.algorithm == "fft"]
    leaders = [fastest]
    if timed_ffts:
        best_fft = min(timed_ffts, key=lambda plan: times[plan.label])
        if best_fft is not fastest and times[best_fft.label] <= FFT_NEIGHBOURS_WITHIN * times[fastest.label]:
            leaders.append(best_fft)
        for transform in KERNEL_TRANSFORMS:  # ... and of each transform's fastest overlap-save plan
            mine = [p for p in timed_ffts if p.fft.blocked and p.fft.kernel_transform == transform]
            best = min(mine, key=lambda plan: times[plan.label], default=None)
            if best is not None and best not in leaders and (
                    times[best.label] <= TRANSFORM_NEIGHBOURS_WITHIN * times[fastest.label]):
                leaders.append(best)
    more = [p for leader in leaders for p in neighbours(permitted, leader.label)
            if times.get(p.label) is None]
    if timed_ffts:
        ffts = [p for p in permitted if p.algorithm == "fft"]
        cheapest_fft = min(p.modelled_us for p in ffts)
        scale = min(times[p.label] / max(p.modelled_us, 1e-9) for p in timed_ffts)
        seen = {family(p) for p in timed}
        for plan in ffts:  # cheapest first: the first of each family not yet timed
            if family(plan) in seen:
                continue
            seen.add(family(plan))
            predicted = plan.modelled_us * scale
            if plan.modelled_us <= cheapest_fft * band and predicted <= times[fastest.label] * band:
                more.append(plan)
    return more


def neighbours(permitted, label):
    """The overlap-save plans of `permitted` with half and twice the block factor of the plan `label`, by
    the same kernel transform (none unless `label` is a blocked FFT plan): which block count is fastest
    the model tells to within 1.1-1.4x only (issue 13)."""
    plan = next((p for p in permitted if p.label == label), None)
    if plan is None or plan.algorithm != "fft" or not plan.fft.blocked:
        return []
    factor, transform = plan.fft.geometry, plan.fft.kernel_transform
    return [p for p in permitted if p.algorithm == "fft" and p.fft.blocked
            and p.fft.kernel_transform == transform and p.fft.geometry in (factor // 2, factor * 2)]


def reusable(permitted, contenders, times, band):
    """The fastest of `permitted` by `times` (`{label: microseconds}` measured earlier for the same problem,
    under any `algorithm`), or None where those times do not cover what measuring would time now: each
    `family` of `contenders`, and what their times call for next (`follow_ups` within `band`).

    Planning "fft" or "direct" after "auto" (or "auto" after both) then measures nothing, and picks what
    the other's timing found: "auto" runs the plan "fft" or "direct" runs, never a variant of the same
    kind measured apart in other rounds (timed apart, two FFT variants of a JAX 2-D 69^2 k=21 3 -> 12
    convolution each won once, 0.93 against 1.27 ms by their fastest calls; issue 13)."""
    timed = [plan for plan in permitted if times.get(plan.label) is not None]
    if not timed or not {family(p) for p in contenders} <= {family(p) for p in timed}:
        return None
    if follow_ups(permitted, times, band):
        return None
    return fastest(timed, times)


def fastest(plans, times):
    """The plan of `plans` (each timed: `times[plan.label]`) with the least time, but a direct plan within
    `DIRECT_TIE` of an FFT plan that is fastest."""
    best = min(plans, key=lambda plan: times[plan.label])
    direct = [p for p in plans if p.algorithm == "direct"]
    if best.algorithm == "fft" and direct:
        closest = min(direct, key=lambda plan: times[plan.label])
        if times[closest.label] <= DIRECT_TIE * times[best.label]:
            return closest
    return best
