"""A grouped convolution's direct plans: the backend's grouped convolution, or one built from ungrouped ones.

A convolution of `groups` groups (Keras's `groups`, a depthwise one where each group holds one channel) can
run as the backend's grouped convolution, as one ungrouped convolution whose kernel is block-diagonal
(`"dense"`: `groups` times the terms, every one but those of a group zero) or as one ungrouped convolution
per group, concatenated (`"split"`). Which is fastest is the backend's and the machine's: XLA's CPU
convolution runs a grouped one far below its ungrouped rate, and its gradient further still (2-vCPU AMD
EPYC without AVX-512, 2 threads, batch 2, forward / training ms: 2-D 64^2 k=3 depthwise 8 channels 3.7 /
11.0 grouped, 0.39 / 3.7 dense; 2-D 32^2 k=7 256 channels in 32 groups 92 / 9366 grouped, 13.5 / 68 split;
a 4-D depthwise training step decomposed onto XLA's 2-D convolution 14-17 s grouped, where the model priced
0.2-0.4 s), while torch's oneDNN grouped one was the fastest at 19 of 24 such shapes
(`benchmarks/grouped_conv.py`, docs/benchmarks.md). So each way is a candidate plan (`Plan.grouping`):
dense and split are priced as the ungrouped problems they run (`dense_problem`, `split_problem`: the
same model, the latter `groups` times), the backend's grouped convolution at the profile's
`Costs.direct_grouped_factor` of the model's time for it, and measuring decides where the model is unsure.
"""

import dataclasses

from keras import ops

# Dense and split plans at this factor of their ungrouped problems' modelled time: where the backend's
# grouped convolution runs at its rate (torch, TensorFlow), the model's channel floor
# (`Costs.direct_min_channels`) prices a depthwise one of up to that many channels like a dense one, which
# ran 1.3-3x slower.
UNMODELLED_FACTOR = 1.5
# Splitting into more groups than this compiles one convolution per group: not offered; nor splitting a
# depthwise convolution, into one-channel convolutions: never the fastest way at the shapes above, and on
# TensorFlow a 4-D depthwise training step of 8 groups with strides and dilation took 42 s a call split
# (0.6 s dense), which measuring paid once (`auto_vs_forced.py --varied --kind grouped`).
SPLIT_MAX_GROUPS = 32
# Of each ungrouped problem's direct plans, the cheapest this many by the model are offered: every one
# is a family measuring may time (`ops.contenders.family`), and timing them all had doubled measuring.
WAYS_PER_GROUPING = 2
# A block-diagonal kernel of more groups than this multiplies the terms too far: not offered.
DENSE_MAX_GROUPS = 256


def dense_problem(problem):
    """The ungrouped problem a `"dense"` plan of `problem` runs."""
    return dataclasses.replace(problem, groups=1)


def split_problem(problem):
    """The ungrouped problem a `"split"` plan of `problem` runs once per group."""
    groups = problem.groups
    return dataclasses.replace(problem, channels=problem.channels // groups,
                               filters=problem.filters // groups, groups=1)


def with_groupings(problem, costs, plans, direct_plans_of, own_nd=()):
    """`plans` (the direct plans of `problem`, priced by the model) and, for a grouped convolution, the
    same priced (and their `uncertain_us` scaled) at `costs.direct_grouped_factor` (but those labelled
    in `own_nd`: the backend's own N-D convolution beside a decomposition, XLA's loop above rank 3 on
    JAX's CPU, which ran a 4-D depthwise step at 1-3x the model's time, not 15-77x), then the direct
    plans of its dense and split problems (`direct_plans_of(problem)`: the priced direct plans of an
    ungrouped problem) as `"dense"` and `"split"` plans (the cheapest `WAYS_PER_GROUPING` of each; split
    only up to `SPLIT_MAX_GROUPS` groups of more than one channel) at `UNMODELLED_FACTOR` of their time,
    split ones `groups` times that."""
    if problem.groups == 1 or problem.transposed:
        return plans
    factor = costs.direct_grouped_factor[1 if problem.training else 0]
    found = [plan if plan.label in own_nd else plan.scaled(factor) for plan in plans]
    ways = []
    if problem.groups <= DENSE_MAX_GROUPS:
        ways.append(("dense", dense_problem(problem), 1))
    if problem.groups <= SPLIT_MAX_GROUPS and problem.channels > problem.groups:
        ways.append(("split", split_problem(problem), problem.groups))
    for grouping, ungrouped, copies in ways:
        scale = copies * UNMODELLED_FACTOR
        cheapest = sorted(direct_plans_of(ungrouped), key=lambda plan: plan.modelled_us)[:WAYS_PER_GROUPING]
        found += [plan.scaled(scale, grouping=grouping) for plan in cheapest]
    return found


def block_diagonal(kernel, groups):
    """The kernel `(*taps, channels, filters)` of the ungrouped convolution equal to the grouped one of
    `kernel` `(*taps, channels // groups, filters)`: input group g meets filter group g only.

    Each group's filters are its block between zeros, concatenated: built as the product of the kernel and
    an identity matrix instead, XLA's CPU compiler crashed the process (a segmentation fault) on the
    gradient of a 4-D depthwise convolution decomposed onto 2-D (25x16x9x26, k=4x2x3x5, 6 -> 12 channels,
    batch 4; jax 0.10.2)."""
    rank = len(kernel.shape) - 2
    taps, group_channels, filters = tuple(kernel.shape[:rank]), kernel.shape[-2], kernel.shape[-1]

    def zeros(count):
        shape = (*taps, count * group_channels, filters // groups)
        return [ops.zeros(shape, dtype=kernel.dtype)] * (count > 0)

    columns = [ops.concatenate(zeros(g) + [block] + zeros(groups - 1 - g), axis=-2)
               for g, block in enumerate(ops.split(kernel, groups, axis=-1))]
    return ops.concatenate(columns, axis=-1)


def grouped_conv(grouping, problem, inputs, kernel, run):
    """The grouped convolution of `problem` by `grouping` ("dense" or "split"), each ungrouped convolution
    by `run(ungrouped_problem, inputs, kernel)`."""
    groups = problem.groups
    if grouping == "dense":
        return run(dense_problem(problem), inputs, block_diagonal(kernel, groups))
    axis = -1 if problem.data_format == "channels_last" else 1
    parts = zip(ops.split(inputs, groups, axis=axis), ops.split(kernel, groups, axis=-1))
    return ops.concatenate([run(split_problem(problem), x, k) for x, k in parts], axis=axis)
