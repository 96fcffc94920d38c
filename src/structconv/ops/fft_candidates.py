"""The FFT candidate plans of a `ConvProblem`: every geometry and kernel transform, each priced by the cost
model, with the spectral product the profile prefers (`ops.candidate_plans` joins them to the direct ones).
Pure Python over static sizes.
"""

import math

from structconv.ops import cost_model
from structconv.ops.fft_geometry import geometries, transpose_fft_lengths
from structconv.ops.plan import KERNEL_TRANSFORMS, FftPlan

# The kernel's spectrum by DFT multiplies it by a constant matrix per axis (taps x frequencies), which every
# compiled program embeds: past this many entries it is no candidate. TensorFlow took 30 s to compile the
# first call of a 1-D 116231-sample k=221 plan by DFT (a 221 x 65537 complex matrix, 116 MB; it then ran
# in 53 ms against 6 ms by FFT blocks) on a 2-vCPU AMD EPYC.
DFT_MATRIX_MAX_ENTRIES = 2**20


def _product(problem, profile, kernel_transform, batch):
    strategy = profile.strategy
    per_group = problem.channels // problem.groups
    limit = strategy.product_loop_max_channels
    if not problem.training and strategy.product_loop_max_channels_inference is not None:
        limit = strategy.product_loop_max_channels_inference
    if per_group > limit:
        return "matmul"
    if kernel_transform != "dft":
        return "loop"
    min_rank = strategy.packed_pairs_min_rank
    pairs = per_group * problem.filters
    if (min_rank is not None and problem.rank >= min_rank and batch % 2 == 0
            and pairs <= strategy.packed_max_kernel_ratio * batch * (problem.channels + problem.filters)):
        return "packed"
    return "planes" if strategy.planes_product else "loop"


def dft_matrix_entries(kernel_size, lengths):
    """The entries of the largest per-axis matrix of the kernel's spectrum by DFT: taps x frequencies (the
    last axis holds the half spectrum of a real transform)."""
    counts = [*lengths[:-1], lengths[-1] // 2 + 1]
    return max(k * n for k, n in zip(kernel_size, counts))


def fft_candidates(problem, profile):
    """`(FftPlan, modelled us)` of every FFT way to run `problem` (forward; the caller applies the FFT
    margin and the training factor): the whole input and each overlap-save geometry (`fft_geometry`, the
    real axis's lengths by the profile's odd-length weight), each by both kernel transforms (by DFT only
    while its matrices stay within `DFT_MATRIX_MAX_ENTRIES`), with the product the profile prefers."""
    costs, itemsize = profile.costs, problem.working_itemsize
    batch, odd_weight = problem.planned_batch, profile.strategy.fft_odd_length_weight
    if problem.transposed:
        lengths = transpose_fft_lengths(problem.spatial, problem.extents, problem.strides, odd_weight)
        options = [("whole", lengths, (), (1,) * problem.rank)]
    else:
        options = list(geometries(problem.spatial, problem.extents, problem.padding, problem.padding_mode,
                                  odd_weight))
    found = []
    for geometry, lengths, steps, counts in options:
        blocks = batch * math.prod(counts)
        small = dft_matrix_entries(problem.kernel_size, lengths) <= DFT_MATRIX_MAX_ENTRIES
        transforms = [t for t in KERNEL_TRANSFORMS if t != "dft" or small]
        for transform in transforms:  # each is a candidate: which is faster varies up to 4x
            by_dft = transform == "dft"
            product = _product(problem, profile, transform, blocks)
            packed = product == "packed"
            terms = cost_model.fft_terms(blocks, problem.channels, problem.filters, problem.groups, lengths,
                                         problem.kernel_size, itemsize, by_dft, sum(c > 1 for c in counts),
                                         packed, problem.backend, costs.fft_cache_bytes)
            modelled = cost_model.fft_us(costs, terms, problem.rank)
            if geometry != "whole":
                modelled *= costs.block_margin
            if packed:
                modelled *= costs.packed_factor
            memory = cost_model.fft_memory_bytes(blocks, problem.channels, problem.filters, problem.groups,
                                                 lengths, itemsize, packed)
            fft = FftPlan(geometry=geometry, lengths=tuple(lengths), steps=tuple(steps),
                          counts=tuple(counts), kernel_transform=transform, product=product,
                          memory=int(memory))
            found.append((fft, modelled))
    return found
