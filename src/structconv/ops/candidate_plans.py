"""The candidate plans of a `ConvProblem`: every way the backend can run it, each priced by the cost model.

The candidates: the backend's own convolution (ranks it has, and on JAX any rank; for an ungrouped training
step on channels_last data, on torch's 2-D, also on a channels-first copy of the input, which has no
backward cliff; for a batch of one where torch's 3-D convolution would skip oneDNN, also as two halves
stacked along the batch, `ops.halves`), each stacking of the decomposition above those ranks (onto the
backend's target rank, and where its convolution of a lower rank is a candidate too, onto that:
`other_targets`), for a grouped convolution each of those also built from ungrouped ones (`ops.grouping`),
each direct way whose convolution gets an odd number of input channels where the backend says that can be
slow also on one zero channel more (`ops.even_channels`: JAX's 2-D convolutions on the CPU), each whose
convolution has no padding where the backend says that can be slow also with one output row more on zero
padding, cropped (`ops.padded_row`: JAX's 2-D convolutions on the CPU again), and FFT plans
(the whole input, or overlap-save blocks), each by both kernel transforms with the product the profile
prefers (`ops.fft_candidates`). The cost model (`ops.cost_model`) prices them under the profile
in force (`profile_for`: the one `structconv calibrate` stored for this machine, else the shipped one), for
forward + backward when the gradient will be taken. Which of them runs is the planner's (`ops.planner`).
Pure Python: it asks the backend tier what it can run, and calls no framework op.
"""

import math

from structconv._backend import get_backend
from structconv.ops import (
    cost_model,
    even_channels,
    fft_candidates,
    grouping,
    padded_row,
    working_precision,
)
from structconv.ops.plan import Plan
from structconv.shapes import arithmetic
from structconv.tuning import fingerprint as fingerprints
from structconv.tuning import profile as profiles

# Stackings the profile does not prefer, and XLA's own N-D convolution above rank 3 where the profile has
# no rate for it (`Costs.native_nd_gflops`, fitted by `structconv calibrate`), are priced at these factors
# of the preferred decomposition, and the backend's own convolution on a channels-first copy of the input
# at this factor of the one on the input as it is (less the backward cliff, which it does not have; torch
# 2-D training steps, 4 -> 4 channels, 64^2, k=13, before the cliff: 3.5 ms against 1.7-2.3 ms), and a
# decomposition onto another rank than the backend's target (`other_targets`) at this factor of the
# target's preferred stacking (the profile's rate of the problem's rank is the target's; priced by its own
# stacked channels, the model put onto 2-D stacking the filters cheapest at a 12^4 k=3 4 -> 8 training step
# on TensorFlow without oneDNN, a way that at 8 -> 8 ran 12x slower than onto 3-D, 353 against 29 ms):
# close enough to be measured in "uncertain" mode, never chosen by the model alone but past the cliff.
# Where the backend says its convolution of one item takes a slower path than that of two
# (`slow_single_item`: torch's 3-D loops, `ops.halves`), the one as it is is priced at this factor of the
# model's time and the one as two halves stacked along the batch at this factor (a copy of the input and
# of the output) plus one more call's overhead (`Costs.direct_overhead_us`). Against oneDNN (the halves)
# the loops ran 1.8-2x as long with one input channel and 4-11x with 2-16, at 24^3-128^3, and faster
# below 16^3 with few channels (8^3: 0.04 ms against 0.18; AVX-512 AMD EPYC, 2 threads): at the low end
# of that, 2x, the model alone keeps the loops only where the halves' overhead outweighs them. "auto"
# times both (a direct family of its own, within `contenders.WIDE_BAND`).
# The framework's own convolution bypassing its kernel library (`_backend` README: `im2col_helps`) at this
# factor of the backend's convolution: the model alone never picks it; "auto" times it (a direct family).
UNMODELLED_FACTOR = {"other_stacking": 1.5, "native_nd": 3.0, "channels_first": 1.5, "other_target": 1.5,
                     "single_item_loops": 2.0, "halves": 1.2, "im2col": 1.5}


def profile_for(backend_name, device="cpu"):
    """The profile in force: the one `structconv calibrate` stored for this machine, else the shipped one
    (a "meta" device, where Keras infers shapes and nothing runs, plans as the CPU)."""
    device = "cpu" if device == "meta" else device
    print_ = fingerprints.fingerprint(backend_name, device)
    return (profiles.calibrated(backend_name, device, fingerprints.fingerprint_id(print_))
            or profiles.shipped_for(print_))


def stacked_taps(problem, onto=None):
    """The taps the direct algorithm's decomposition (onto rank `onto`; None: the backend's target) peels
    and stacks along a channel axis (1 where the backend's own convolution runs the rank)."""
    if _native_only(problem):
        return 1
    return math.prod(problem.kernel_size[: problem.rank - _decomposed_to(problem, onto)])


def backend_conv_of(problem, plan):
    """`(rank, input channels, filters)` of the backend convolution a direct `plan` of an ungrouped
    `problem` runs: the problem's own, or its decomposition's onto the plan's rank (the input channels or
    the filters times the peeled taps stacked along them)."""
    if plan.direct in ("inputs", "filters") and not _native_only(problem):
        taps = stacked_taps(problem, plan.onto)
        rank = _decomposed_to(problem, plan.onto)
        if plan.direct == "inputs":
            return rank, problem.channels * taps, problem.filters
        return rank, problem.channels, problem.filters * taps
    return problem.rank, problem.channels, problem.filters


def backend_conv_padding(problem, plan):
    """`(padding, outputs)` along the axes of the backend convolution a direct `plan` runs: the problem's
    (none where a padding mode but zeros pads the input first, none along the first axis where two halves
    are stacked along it, `ops.halves`), or those of the axes its decomposition runs on."""
    padding = problem.padding
    if problem.padding_mode != "zeros":
        padding = ((0, 0),) * problem.rank
    if plan.direct == "halves":
        padding = ((0, 0), *padding[1:])
    start = 0
    if plan.direct in ("inputs", "filters") and not _native_only(problem):
        start = problem.rank - _decomposed_to(problem, plan.onto)
    return tuple(padding[start:]), tuple(problem.outputs[start:])


def stacked_along(problem, method):
    """The channel axis along which a direct `method` ("inputs", "filters", "native") carries the peeled
    taps, for the model's channel floor (`cost_model.direct_terms`): "filters" only for that stacking of a
    convolution (a transposed one is modelled as the convolution it is the adjoint of)."""
    return "filters" if method == "filters" and not problem.transposed else "inputs"


def _native_only(problem):
    """Whether the backend's own convolution is the one direct way: up to its `native_only_max_rank` on the
    problem's device. Above, up to `native_max_rank`, it is one candidate beside the decomposition: on
    JAX's CPU from rank 3 (XLA's rank-4+ convolution is a slow loop, and its 3-D one ran 1.7-64x slower
    than the decomposition onto its 2-D one), and at rank 3 on TensorFlow's CPU without oneDNN (Eigen's
    3-D convolution 14-53x at strided training steps; `benchmarks/direct_rank3.py`, AMD EPYC)."""
    return problem.rank <= get_backend().native_only_max_rank(problem.device)


def _decomposed_to(problem, onto=None):
    """The rank the problem's decomposition runs on: `onto`, else the backend's target
    (`shapes.arithmetic.decomposition_rank`)."""
    return onto or arithmetic.decomposition_rank(problem.rank, get_backend().DECOMPOSE_TO_RANK)


def other_targets(problem):
    """Ranks besides the backend's target that the problem's decomposition may run on: those between the
    backend's `native_only_max_rank` and its `DECOMPOSE_TO_RANK` below the problem's rank. On TensorFlow's
    CPU without oneDNN, rank 2 beside Eigen's 3-D convolution from rank 4 (decomposed onto it, strided
    4-D training steps and a strided transposed one ran 18-22x slower than onto 2-D, a dilated one 5.7x;
    onto it 3 of 9 shapes ran faster, 0.43-0.80x; `benchmarks/direct_rank3.py --rank 4`, AMD EPYC); on
    JAX's GPU, rank 3 beside 2 (unmeasured)."""
    if _native_only(problem):
        return ()
    backend = get_backend()
    ends = (backend.native_only_max_rank(problem.device), backend.DECOMPOSE_TO_RANK)
    native_max = backend.native_max_rank(problem.device)
    return tuple(r for r in range(min(ends), max(ends) + 1)
                 if 1 <= r < problem.rank and r != _decomposed_to(problem)
                 and (native_max is None or r <= native_max))


def single_item_loops(problem):
    """Whether the backend's own convolution (or transposed convolution) of the problem, a batch of one known
    when traced, may run faster as two halves stacked along the batch (`ops.halves`): where the backend
    says one item takes a slower path than two (`slow_single_item`), with at least two outputs (inputs of
    a transposed one) along the first axis to split."""
    return (problem.static and problem.batch == 1 and problem.outputs[0] >= 2
            and get_backend().slow_single_item(problem.rank, problem.channels, problem.spatial,
                                               problem.kernel_size, problem.groups, problem.dtype,
                                               problem.device))


def _im2col_helps(problem):
    """Whether the framework's own convolution bypassing its kernel library is a candidate (not transposed;
    the backend's `im2col_helps`: torch's im2col convolution for few channels, `_backend` README)."""
    if problem.transposed or not problem.static:
        return False
    columns = problem.planned_batch * math.prod((*problem.outputs, *problem.kernel_size, problem.channels))
    return get_backend().im2col_helps(
        problem.rank, problem.data_format, problem.channels, problem.filters, problem.groups, problem.dtype,
        problem.device, columns)


def _native_beside(problem):
    """Whether the backend's own convolution is a candidate beside the decomposition (not `_native_only`)."""
    native_max = get_backend().native_max_rank(problem.device)
    return native_max is None or problem.rank <= native_max


def _direct_candidates(problem, profile, base_of):
    """`(method, onto, modelled us)` of each direct way; `base_of(stacking, onto)`: the modelled time of
    the decomposition onto rank `onto` (None: the backend's target) stacking along "inputs" or "filters"
    (of the backend's own convolution for "inputs" where it runs the rank)."""
    if _native_only(problem):
        base, single_item = base_of("inputs", None), single_item_loops(problem)
        found = [("native", None, base * (UNMODELLED_FACTOR["single_item_loops"] if single_item else 1.0))]
        # Not grouped: torch's depthwise 2-D step ran 1.4-6.6x slower on the copy from 7x7 to 31x31 taps.
        if (problem.training and not problem.transposed and problem.groups == 1
                and problem.data_format == "channels_last"
                and problem.rank in get_backend().CHANNELS_FIRST_COPY_RANKS):
            found.append(("channels_first", None, base * UNMODELLED_FACTOR["channels_first"]))
        if single_item:
            found.append(("halves", None,
                          base * UNMODELLED_FACTOR["halves"] + profile.costs.direct_overhead_us))
        if _im2col_helps(problem):
            found.append(("im2col", None, base * UNMODELLED_FACTOR["im2col"]))
        return found

    def stackings(onto):
        """The preferred stacking onto rank `onto`, and every stacking that can run: not "filters" with a
        gradient past the profile's `decompose_filters_max_taps` (its backward pass holds one stacked
        output per peeled tap: measuring TensorFlow's 6-D 8^6 2 -> 2 step stacked along the filters took
        over 10 GB without oneDNN, the inputs 1.5 GB)."""
        if problem.transposed:
            return "filters", ["filters"]
        can_filters = _filters_can_stack(problem, profile.strategy, stacked_taps(problem, onto))
        return preferred_stacking(problem, profile.strategy, onto), ["inputs"] + ["filters"] * can_filters

    def factor(option, preferred):
        return 1.0 if option == preferred else UNMODELLED_FACTOR["other_stacking"]

    # The other stacking at a factor of the preferred one's time, not at its own: the rates are fitted to
    # the faster stacking of each grid shape, and the preference to which was faster (`fit_stacking`),
    # while the channel floor can price the other far off (TensorFlow, a 3-D 20^3 k=4 2 -> 16 step with
    # 4 peeled taps: 2 -> 64 channels along the filters priced as 8 -> 64, above 8 -> 16 along the inputs;
    # it ran 1.9x faster).
    preferred, options = stackings(None)
    target_us = base_of(preferred, None)
    found = [(option, None, target_us * factor(option, preferred)) for option in options]
    for onto in other_targets(problem):  # at a factor of the target's time, whose rate the profile fitted
        preferred, options = stackings(onto)
        found += [(option, onto, target_us * UNMODELLED_FACTOR["other_target"] * factor(option, preferred))
                  for option in options]
    if _native_beside(problem):  # XLA's N-D convolution on JAX's CPU, Eigen's 3-D one on TensorFlow's
        found.append(("native", None, _native_nd_us(problem, profile.costs, target_us)))
    return found


def preferred_stacking(problem, strategy, onto=None):
    """Along which channel axis ("inputs" or "filters") the profile's `strategy` has the decomposition of
    a convolution (not transposed) stack its peeled taps: the strategy's stacking with a gradient or
    without, or where it says so for the problem's rank and the channels differ, the side with fewer, else
    "inputs" from the strategy's count of filters per group with a gradient or without
    (`inputs_min_filters`); "inputs" where "filters" cannot run (groups, a single peeled tap) or a
    gradient's peeled taps pass `decompose_filters_max_taps`."""
    preferred = strategy.decompose_stacking if problem.training else strategy.decompose_stacking_inference
    if strategy.fewer_channels(problem.rank, problem.training) and problem.channels != problem.filters:
        preferred = "inputs" if problem.channels < problem.filters else "filters"
    elif 0 < strategy.inputs_min_filters(problem.rank, problem.training) <= (
            problem.filters // problem.groups):
        preferred = "inputs"
    if preferred == "filters" and not _filters_can_stack(problem, strategy, stacked_taps(problem, onto)):
        return "inputs"
    return preferred


def _filters_can_stack(problem, strategy, taps):
    """Whether `taps` peeled taps can stack along the filters: ungrouped, more than one tap, and with a
    gradient no more than `strategy`'s limit."""
    limit = strategy.decompose_filters_max_taps
    return problem.groups == 1 and taps > 1 and not (problem.training and limit is not None and taps > limit)


def _native_nd_us(problem, costs, base_us):
    """XLA's own N-D convolution: at the profile's rate for it (`Costs.native_nd_gflops`), or where it has
    none (or sizes are unknown) at `UNMODELLED_FACTOR` times the decomposition's `base_us`."""
    modelled = problem.static and cost_model.native_nd_us(
        costs, problem.planned_batch, problem.outputs, problem.kernel_size, problem.channels, problem.filters,
        problem.groups, problem.padded, problem.itemsize,
        cost_model.float64_slowdown(costs, problem.rank, problem.dtype))
    return modelled or base_us * UNMODELLED_FACTOR["native_nd"]


def backward_cliff_us(problem, costs, onto=None):
    """What the gradient of the direct algorithm adds past the backend's backward cliff
    (`cost_model.direct_cliff_us`), for the convolution it runs: the backend's own of the problem's rank,
    or above it the decomposition's (onto rank `onto`; None: the backend's target), whose kernel is the
    last axes'; 0 when no gradient is taken."""
    if not problem.training:
        return 0.0
    peeled = stacked_taps(problem, onto)
    conv_rank = problem.rank if _native_only(problem) else _decomposed_to(problem, onto)
    flops = cost_model.direct_terms(problem.planned_batch, problem.outputs, problem.kernel_size,
                                    problem.channels, problem.filters, problem.groups, problem.padded,
                                    problem.itemsize)["flops"]
    return cost_model.direct_cliff_us(costs, conv_rank, problem.taps // peeled, flops)


def candidates(problem, profile=None, own_slowdown=None):
    """Every plan the backend can run for `problem`, each with its modelled time (`modelled_us`, forward +
    backward when `problem.training`, the FFT margin applied), cheapest first; none over any rule but
    the memory budget, which the caller applies. `own_slowdown`: for a half-precision problem, the measured
    time of the backend's convolution in its dtype over widened to float32 (`ops.working_precision`)."""
    profile = profile or profile_for(problem.backend, problem.device)
    costs, rank = profile.costs, problem.rank
    if not problem.static:  # sizes unknown when traced: direct, in the preferred way, unpriced
        method = min(_direct_candidates(problem, profile, lambda stacking, onto: 1.0),
                     key=lambda found: found[2])[0]
        if get_backend().DYNAMIC_SAME_PADDING and _native_beside(problem):
            method = "native"  # a "same" padding computed at run time: only its own convolution takes one
        export_max = get_backend().EXPORT_NATIVE_MAX_RANK
        if problem.symbolic and export_max is not None and rank > export_max:
            method = "filters" if problem.transposed else "inputs"  # the decomposition, which exports
        return [Plan("direct", direct=method)]

    def base_of(stacking, onto):
        return cost_model.direct_us(costs, problem.planned_batch, problem.outputs, problem.kernel_size,
                                    problem.channels, problem.filters, problem.groups, problem.padded,
                                    problem.itemsize, stacked_taps(problem, onto),
                                    stacked_along(problem, stacking),
                                    cost_model.float64_slowdown(costs, rank, problem.dtype))

    direct_factor = cost_model.per_rank(costs.direct_training, rank) if problem.training else 1.0
    fft_factor = cost_model.per_rank(costs.fft_training, rank) if problem.training else 1.0
    # The 1-D cliff's threshold, probed at batch 1 on one shape, moves with the batch and the channels
    # (TensorFlow: from 65 taps at batch 1, 129 at batch 2, none up to 129 at batch 4; a 19792-sample k=23
    # 16 -> 16 step at batch 2, priced past a threshold of 17, ran direct in 22.4 ms against 27.2 by FFT):
    # measuring may time it (`Plan.uncertain_us`). The 2-D one did not move (128^2, k=15, batch 2: 1.1-1.8
    # s a step), and past it a step takes seconds (150^2, k=25: 6-7 s), so it is trusted; but not for a
    # half-precision problem, whose own dtype's kernels the float32 probe did not run (TensorFlow's
    # oneDNN on an AMX Xeon: a 2-D 128^2 k=15 16 -> 16 step 2.7 ms in bfloat16, 2.4 s in float32 and
    # float16): `working_precision` trusts it again where the plan computes in float32.
    doubted_in_float32 = problem.rank == 1
    plans = [Plan("direct", direct=method, onto=onto, modelled_us=us * direct_factor + past_cliff,
                  uncertain_us=past_cliff if doubted_in_float32 or problem.half_precision else 0.0)
             for method, onto, us in _direct_candidates(problem, profile, base_of)
             for past_cliff in [0.0 if method == "channels_first"
                                else backward_cliff_us(problem, costs, onto)]]
    plans = even_channels.with_even_channels(problem, profile.strategy, plans,
                                             lambda plan: backend_conv_of(problem, plan))
    plans = padded_row.with_padded_row(problem, profile.strategy, plans, lambda plan: (
        *backend_conv_of(problem, plan), *backend_conv_padding(problem, plan)))
    plans = working_precision.with_working_precision(problem, costs, plans, own_slowdown, doubted_in_float32)
    if problem.groups > 1:  # also from ungrouped convolutions; the backend's own N-D one keeps its price
        own_nd = set() if _native_only(problem) else {p.label for p in plans if p.direct == "native"}
        plans = grouping.with_groupings(problem, costs, plans, lambda ungrouped: [
            plan for plan in candidates(ungrouped, profile, own_slowdown) if plan.algorithm == "direct"],
            own_nd)
    margin = cost_model.per_rank(costs.fft_margin, rank)
    plans += [Plan("fft", fft=fft, modelled_us=us * fft_factor * margin)
              for fft, us in fft_candidates.fft_candidates(problem, profile)]
    return sorted(plans, key=lambda plan: plan.modelled_us)
