"""Choosing between direct and FFT convolution: a calibrated cost model and a memory estimate.

Both costs are estimated from static shapes, in microseconds, per backend. With `B` the batch, `C` input
and `F` output channels, `g` groups, `N` the points of one FFT (the product of the FFT lengths) and `M` the
complex points of one real spectrum (`N / L_last * (L_last // 2 + 1)`):

- direct: `overhead + flops / rate[rank] + bytes / bandwidth`, with `2 * B * outputs * taps * (C / g) * F`
  flops and the bytes of the (padded) input and of the output (padding copies, layout changes). Ranks above
  4 use the rank-4 rate (they run as lower-rank convolutions, see `ops.decomposition`).
- FFT: `overhead` plus, each at its own rate,
  - the `B * C` forward and `B * F` inverse real FFTs, `2.5 * N * log2(N)` flops each, at a rate per rank
    (an N-D FFT makes one strided pass over all of its data per axis);
  - the kernel's spectrum: `(C / g) * F` more such FFTs, or, for kernels small next to the FFT length, a
    DFT by matrices of `8` flops per complex multiply-add (`fft_conv.dft_multiply_adds`), whichever the
    model says is cheaper (`kernel_by_dft`, which `fft_conv` follows);
  - the spectral product, `8 * B * (C / g) * F * M` flops;
  - memory traffic: the bytes of the three spectra and of the real input and output at the FFT lengths,
    and for overlap-save blocks their copies per axis cut into blocks (`FRAME_COPIES`).

  A pass of the FFT along an axis too long for a core's cache counts `OUT_OF_CACHE_FACTOR` times its flops
  (`fft_flops`), and `fft_plan` takes overlap-save blocks only when they are modelled `BLOCK_MARGIN` times
  cheaper than the whole input (or the whole input is over the memory budget).

Every constant is a physical quantity fitted to measured times by `benchmarks/calibrate_fft.py` (bounded
least squares: rates below the machine's peak, a quarter of it for FFTs and the spectral product; overheads
at least the time of a call that does almost no work, FFT's at least direct's), and the same arithmetic
(`direct_terms`, `fft_terms`) is used by the fit and the model. Two rules hold whatever the constants: a
kernel of fewer than `FFT_MIN_TAPS` taps always runs direct (per output and channel pair the spectral
product alone costs about as many flops as such a kernel, at a lower rate), and FFT is never modelled
cheaper than its fixed overhead, the pad, rfftn, product, irfftn and slice it always runs, so tiny
problems run direct, as do problems modelled below `TINY_OVERHEADS` FFT overheads. FFT must be modelled
`fft_margin` times cheaper than direct, a factor per backend and rank fitted to the decisions (which
algorithm was faster) after the rates were fitted to the times.

The choice runs in Python on static shapes when the op is traced (cached), so it costs nothing per step,
and "auto" never picks FFT above the memory budget of `structconv.config`.
"""

import dataclasses
import functools
import math

from structconv import config
from structconv.errors import StructconvError, invalid_argument

ALGORITHMS = ("auto", "direct", "fft")
# Overlap-save copies per axis cut into blocks, of the input blocks and of the output blocks, as many times
# as the backend makes them. On torch (eager) they are counted in `fft_conv.fft_conv` and profiled (2048^2
# cut into 10 x 10 blocks: 4 concatenations and 5 copies per call, half of its time): the padding to whole
# blocks, the concatenation of each block with its overlap and the transpose of the blocks into the batch;
# the slice of each block's outputs and the transpose back. XLA fuses them into about one copy each way; on
# TensorFlow one each way matches the measured picks (1 thread, 2026-11-22: 256^2, 8 channels, k=15: blocks
# of 60^2 28.7 ms, whole 37.3 ms; 2048^2, one channel, k=65: whole 61 ms, blocks of 270^2 151 ms).
FRAME_COPIES = {"torch": (3, 2), "tensorflow": (1, 1), "jax": (1, 1)}
# Overlap-save is planned only when the model says it is at least this much faster than the whole transform
# (within the memory budget): the model's fitted error is 20-40% (docs/fft.md), and a whole power-of-two
# transform is faster per flop than the mixed-radix blocks the model was fitted on.
BLOCK_MARGIN = 1.1
# An FFT pass along an axis whose complex data (`L * 2 * itemsize` bytes) exceeds a core's L2 cache (2 MiB
# on the development VM) runs from main memory: measured 3.6-4.2x slower per flop than cache-resident
# passes (torch, JAX and TensorFlow, 1 thread, 2026-11-22: one 2^20-point real FFT against 17 of 65856
# points). The calibration's transforms are all shorter, so the fitted rates are the in-cache ones.
FFT_CACHE_BYTES = 2 * 2**20
OUT_OF_CACHE_FACTOR = 4.0
# Kernels of fewer taps (the product of the kernel size) always run direct under "auto".
FFT_MIN_TAPS = 16
# Problems whose modelled direct time is below this many FFT overheads always run direct: an FFT call runs at
# least five ops (pad, rfftn, product, irfftn, slice) where direct runs one, and the margins (`fft_margin`,
# fitted on problems of milliseconds) say nothing about calls that are all overhead.
TINY_OVERHEADS = 2.0


@dataclasses.dataclass(frozen=True)
class Costs:
    """The cost model's constants for one backend: overheads in microseconds per call, rates in Gflop/s
    and bandwidths in GB/s."""

    direct_overhead_us: float
    direct_gflops: tuple  # ranks 1, 2, 3 and 4+ (or more entries: the last one holds for higher ranks)
    direct_gbps: float
    fft_overhead_us: float
    fft_gflops: tuple  # of the real FFTs, counted as 2.5 N log2(N), ranks 1, 2, 3 and 4+
    dft_gflops: float  # of the kernel's spectrum by DFT matrices
    product_gflops: float  # of the spectral product
    fft_gbps: float
    # Per rank (1, 2, 3 and 4+): "auto" picks FFT where it is modelled this many times cheaper than direct.
    # Fitted after the rates, on the same points, to the decisions rather than the times
    # (`benchmarks/calibrate_fft.py`, `fit_margins`): near a crossover the model's 15-25% error decides.
    fft_margin: tuple = (1.0,)
    # Per rank: forward + backward time over forward time, of direct and of FFT, for a convolution whose
    # gradient will be taken (`training`). Measured above rank 3, where the decomposed direct convolution's
    # backward pass costs 3-7x its forward and FFT's 1-3x (benchmarks/ndconv.py); 1 (not modelled) for the
    # native ranks.
    direct_training: tuple = (1.0,)
    fft_training: tuple = (1.0,)
    # The direct algorithm's flops count at least this many input and output channels per group at ranks
    # 1-3 (`direct_min_channels`): XLA's CPU convolution takes about as long at 1-8 channels as at 8
    # (measured 2026-11-22, JAX, 2 threads, k=5, batch 1, "same": 2-D 128^2 0.71-1.34 ms at (1, 1) to
    # (8, 8) channels; 3-D 24^3 19.6-22.9 ms), where torch's and TensorFlow's times fall with the channels
    # (torch 2-D 0.13 ms at (1, 1), 0.39 at (8, 8)).
    direct_min_channels: int = 1


# Fitted by `benchmarks/calibrate_fft.py --also <two benchmarks/fft.py runs>` on 2026-11-22, 11:48-11:59 UTC,
# on the 2-vCPU Intel Xeon (Sapphire Rapids) VM, idle, with the frameworks' default threads (2), as users and
# the benchmarks run (each time the fastest of 4-7 interleaved rounds): the calibration grid plus the
# crossover sweeps (95 points per backend), relative error of the fit median 18-23%; the margins refitted
# from the same measurements by the final `fit_margins` rule. On a later sweep, not fitted (12:43 UTC),
# auto was within 1.15x of the faster algorithm at 81 of 81 points (see docs/fft.md). Constants fitted on
# one thread misjudge two: direct convolutions scale with the threads more than FFTs do. Re-run both on the
# target machine and paste the output here.
COSTS = {
    # Ranks 5 and 6+ of the direct rates are measured, not fitted (benchmarks/ndconv.py cases (c) and (d),
    # forward, idle machine, 2 threads, 2026-11-22): the rank-4 rate overestimated rank 6 twelvefold.
    "torch": Costs(direct_overhead_us=58.9, direct_gflops=(89.2, 210.4, 192.5, 182.7, 59.0, 15.4),
                   direct_gbps=10.31, fft_overhead_us=242.6, fft_gflops=(52.51, 41.47, 15.54, 11.65),
                   dft_gflops=67.70, product_gflops=29.25, fft_gbps=9.98,
                   fft_margin=(0.85, 1.14, 1.87, 1.00), direct_training=(1.0, 1.0, 1.0, 4.4),
                   fft_training=(1.0, 1.0, 1.0, 2.3)),
    # Likewise (jitted): above 27 peeled taps the decomposition stacks inputs, and XLA's rank-2 convolution
    # with many input channels runs at about 1.2 Gflop/s. The rest refitted on 2026-11-22
    # (`calibrate_fft.py --backends jax` with two fresh sweeps, 14:27-14:33 UTC, then `--refit` with
    # `direct_min_channels`) after the kernel's spectrum moved to real planes and batch items to packed
    # pairs (`fft_conv.PLANES_PRODUCT`, `PACKED_PAIRS_MIN_RANK`).
    "jax": Costs(direct_overhead_us=7.4, direct_gflops=(118.5, 113.5, 12.7, 50.1, 18.8, 1.25),
                 direct_gbps=5.82, fft_overhead_us=11.7, fft_gflops=(16.15, 16.41, 10.46, 7.43),
                 dft_gflops=85.57, product_gflops=14.52, fft_gbps=32.96, fft_margin=(1.00, 1.00, 1.00, 1.00),
                 direct_training=(1.0, 1.0, 1.0, 3.6), fft_training=(1.0, 1.0, 1.0, 1.85),
                 direct_min_channels=8),
    "tensorflow": Costs(direct_overhead_us=500.1, direct_gflops=(195.3, 192.2, 182.2, 161.1, 36.0, 14.9),
                        direct_gbps=6.52, fft_overhead_us=500.1, fft_gflops=(83.00, 79.80, 15.80, 10.49),
                        dft_gflops=41.09, product_gflops=83.00, fft_gbps=3.28,
                        fft_margin=(1.00, 1.00, 1.26, 1.54), direct_training=(1.0, 1.0, 1.0, 5.0),
                        fft_training=(1.0, 1.0, 1.0, 3.2)),
}


def normalize_algorithm(algorithm):
    if isinstance(algorithm, str) and algorithm.lower() in ALGORITHMS:
        return algorithm.lower()
    raise invalid_argument("algorithm", algorithm, " or ".join(repr(a) for a in ALGORITHMS))


def costs(backend_name):
    """The constants of `backend_name` (torch's for an unknown backend)."""
    return COSTS.get(backend_name, COSTS["torch"])


def _per_rank(rates, rank):
    """The rate of `rank` from a tuple for ranks 1, 2, ...; the last entry holds for all higher ranks."""
    return rates[min(rank, len(rates)) - 1]


def fft_lengths(padded_sizes):
    """FFT lengths covering `padded_sizes` (a linear correlation or the full transposed convolution)."""
    from structconv.ops.fft_conv import fast_length

    return tuple(fast_length(n) for n in padded_sizes)


def fft_memory_bytes(batch, channels, filters, groups, lengths, itemsize, packed=False):
    """Working memory of one FFT convolution: the real input and output at the FFT lengths, and the three
    spectra (input, kernel, output; the kernel's at every frequency when batch items are `packed` in pairs,
    `fft_conv.packs_pairs`)."""
    from structconv.ops.fft_conv import spectrum_size

    points, half = math.prod(lengths), spectrum_size(lengths)
    spectra = (batch * channels + batch * filters) * half + (channels // groups) * filters * (
        points if packed else half)
    real = (batch * channels + batch * filters) * points
    return 2 * itemsize * spectra + itemsize * real


def _packed(batch, channels, filters, groups, lengths, backend_name, by_dft):
    from structconv.ops.fft_conv import packs_pairs

    return by_dft and packs_pairs(batch, channels, filters, groups, len(lengths), backend_name)


def direct_min_channels(backend_name, rank):
    """`Costs.direct_min_channels` for the native ranks 1-3; 1 above, where the decomposition stacks the
    peeled taps onto the channels of the native convolution."""
    return costs(backend_name).direct_min_channels if rank <= 3 else 1


def direct_terms(batch, outputs, kernel_size, channels, filters, groups, padded_sizes, itemsize,
                 min_channels=1):
    """The direct algorithm's work: flops (at least `min_channels` input and output channels per group,
    `Costs.direct_min_channels`), and bytes of its (padded) input and output."""
    per_group = max(channels // groups, min_channels) * max(filters // groups, min_channels)
    return {
        "flops": 2.0 * batch * math.prod(outputs) * math.prod(kernel_size) * per_group * groups,
        "memory": itemsize * batch * (channels * math.prod(padded_sizes) + filters * math.prod(outputs)),
    }


def fft_flops(lengths, itemsize=4):
    """Flops of one real FFT of `lengths`, `2.5 * N * log2(N)`, each axis's pass (`2.5 * N * log2(L)`)
    counted `OUT_OF_CACHE_FACTOR` times when its complex data (`L * 2 * itemsize` bytes) exceeds
    `FFT_CACHE_BYTES`."""
    points = math.prod(lengths)
    passes = sum(math.log2(n) * (OUT_OF_CACHE_FACTOR if 2 * itemsize * n > FFT_CACHE_BYTES else 1.0)
                 for n in lengths if n > 1)
    return 2.5 * points * max(passes, 1.0)


def fft_terms(batch, channels, filters, groups, lengths, kernel_size, itemsize, kernel_by_dft, blocked=False,
              backend_name="torch"):
    """The FFT algorithm's work per term of the model: flops of the FFTs, of the kernel's DFT, of the
    product, and bytes of memory traffic. `blocked`: overlap-save, the number of axes cut into blocks (True:
    all of them), each of which copies the input and the output blocks as many times more as
    `FRAME_COPIES[backend_name]` says (`batch` counts the blocks). Batch items packed in pairs
    (`fft_conv.packs_pairs`) run half as many complex FFTs of the same work, and the kernel's spectrum keeps
    every frequency."""
    from structconv.ops.fft_conv import dft_multiply_adds, spectrum_size

    packed = _packed(batch, channels, filters, groups, lengths, backend_name, kernel_by_dft)
    points, half = math.prod(lengths), spectrum_size(lengths)
    per_transform = fft_flops(lengths, itemsize)
    pairs = (channels // groups) * filters
    transforms = batch * channels + batch * filters + (0 if kernel_by_dft else pairs)
    padded_kernel = 0 if kernel_by_dft else itemsize * pairs * points
    framed = len(lengths) if blocked is True else int(blocked)
    copies_in, copies_out = FRAME_COPIES.get(backend_name, FRAME_COPIES["torch"])
    framing = itemsize * batch * (copies_in * channels + copies_out * filters) * points * framed
    return {
        "fft": transforms * per_transform,
        "dft": 8.0 * pairs * dft_multiply_adds(kernel_size, lengths, not packed) if kernel_by_dft else 0.0,
        "product": 8.0 * batch * pairs * half,
        "memory": (fft_memory_bytes(batch, channels, filters, groups, lengths, itemsize, packed)
                   + padded_kernel + framing),
    }


def direct_cost_us(batch, outputs, kernel_size, channels, filters, groups, backend_name, padded_sizes=None,
                   itemsize=4):
    c = costs(backend_name)
    terms = direct_terms(batch, outputs, kernel_size, channels, filters, groups, padded_sizes or outputs,
                         itemsize, direct_min_channels(backend_name, len(outputs)))
    rate = _per_rank(c.direct_gflops, len(outputs))
    return c.direct_overhead_us + terms["flops"] / (rate * 1e3) + terms["memory"] / (c.direct_gbps * 1e3)


def kernel_by_dft(kernel_size, lengths, backend_name, itemsize=4):
    """True when the kernel's spectrum is cheaper by DFT matrices than by FFT on this backend (per channel
    pair: one FFT and the zero-padded copy it transforms, against the DFT's multiply-adds)."""
    from structconv.ops.fft_conv import dft_multiply_adds

    c = costs(backend_name)
    points = math.prod(lengths)
    fft_us = (fft_flops(lengths, itemsize) / (_per_rank(c.fft_gflops, len(lengths)) * 1e3)
              + itemsize * points / (c.fft_gbps * 1e3))
    dft_us = 8.0 * dft_multiply_adds(kernel_size, lengths) / (c.dft_gflops * 1e3)
    return dft_us < fft_us


def fft_cost_us(batch, channels, filters, groups, lengths, backend_name, kernel_size=None, itemsize=4,
                blocked=False):
    c = costs(backend_name)
    by_dft = kernel_size is not None and kernel_by_dft(kernel_size, lengths, backend_name, itemsize)
    terms = fft_terms(batch, channels, filters, groups, lengths, kernel_size or (1,) * len(lengths), itemsize,
                      by_dft, blocked, backend_name)
    rates = {"fft": _per_rank(c.fft_gflops, len(lengths)), "dft": c.dft_gflops, "product": c.product_gflops,
             "memory": c.fft_gbps}
    return c.fft_overhead_us + sum(work / (rates[name] * 1e3) for name, work in terms.items())


@dataclasses.dataclass(frozen=True)
class FftPlan:
    """How `fft_conv` runs one convolution: the geometry of its FFTs, the kernel's transform, the model's
    cost and the memory estimate.

    `blocked`: overlap-save, the padded input cut on each axis into `counts` overlapping blocks of
    `lengths` samples, `steps` outputs apart (an axis with one block is transformed whole); otherwise the
    whole input at once, zero padding never materialised (`fft_conv.conv_fft_lengths`).
    """

    geometry: object  # "whole" or the block factor
    lengths: tuple
    steps: tuple
    counts: tuple
    blocked: bool
    kernel_by_dft: bool
    cost_us: float
    memory: int


# Overlap-save block lengths tried per axis: `fast_length(factor * extent)`. Short blocks make the kernel's
# spectrum (`in * out` of them) small and the FFTs cache-resident, at the price of `extent - 1` samples of
# overlap per block; the model picks the factor (or the whole input) per convolution.
BLOCK_FACTORS = (2, 4, 8, 16)


def _geometries(sizes, extents, padding, padding_mode):
    from structconv.ops.fft_conv import conv_fft_lengths, fast_length

    whole = conv_fft_lengths(sizes, extents, padding, padding_mode)
    outputs = tuple(n + before + after - e + 1 for n, e, (before, after) in zip(sizes, extents, padding))
    yield "whole", whole, outputs, (1,) * len(sizes)
    padded = [n + before + after for n, (before, after) in zip(sizes, padding)]
    for factor in BLOCK_FACTORS:
        lengths, steps, counts = [], [], []
        for n, e in zip(padded, extents):
            block = fast_length(factor * e)
            if 2 * block > n:  # a single block: the whole (padded) axis
                block, step, count = fast_length(n), n - e + 1, 1
            else:
                step = block - e + 1
                count = -(-(n - e + 1) // step)
            lengths.append(block)
            steps.append(step)
            counts.append(count)
        if max(counts) > 1:
            yield factor, tuple(lengths), tuple(steps), tuple(counts)


@functools.lru_cache(maxsize=4096)
def fft_plan(sizes, extents, kernel_size, padding, padding_mode, batch, channels, filters, groups, itemsize,
             backend_name, budget, geometry=None):
    """The cheapest FFT plan by the cost model among those within `budget` bytes (the smallest in memory
    if none is), overlap-save blocks only if `BLOCK_MARGIN` times cheaper than the whole input; `geometry`
    ("whole" or a block factor) forces one where the shapes allow it (blocks need an axis at least twice as
    long as a block). All arguments are static."""
    plans = []
    options = list(_geometries(sizes, extents, padding, padding_mode))
    if geometry is not None:
        options = [o for o in options if o[0] == geometry] or options[:1]
    for option, lengths, steps, counts in options:
        blocks = batch * math.prod(counts)
        by_dft = kernel_by_dft(kernel_size, lengths, backend_name, itemsize)
        plans.append(FftPlan(
            geometry=option,
            lengths=lengths,
            steps=steps,
            counts=counts,
            blocked=option != "whole",
            kernel_by_dft=by_dft,
            cost_us=fft_cost_us(blocks, channels, filters, groups, lengths, backend_name, kernel_size,
                                itemsize, blocked=sum(count > 1 for count in counts)),
            memory=fft_memory_bytes(
                blocks, channels, filters, groups, lengths, itemsize,
                _packed(blocks, channels, filters, groups, lengths, backend_name, by_dft)),
        ))
    within = [plan for plan in plans if plan.memory <= budget]
    if within:
        best = min(within, key=lambda plan: plan.cost_us)
        whole = [plan for plan in within if not plan.blocked]
        if best.blocked and whole and best.cost_us * BLOCK_MARGIN > whole[0].cost_us:
            return whole[0]
        return best
    return min(plans, key=lambda plan: plan.memory)


def choose_algorithm(algorithm, *, batch, padded_sizes, kernel_extents, kernel_size, outputs, channels,
                     filters, groups, itemsize, backend_name, spatial=None, padding=None,
                     padding_mode="zeros", training=False):
    """Returns `"direct"` or `"fft"` for one convolution; raises if `"fft"` is over the memory budget.

    With `spatial` (the input's sizes) and `padding` (resolved pairs) the FFT side is `fft_plan`, as
    `fft_conv` runs it; without, one linear correlation over `padded_sizes` (the transposed convolution).
    `training`: its gradient will be taken, so the costs are of forward + backward (`Costs.direct_training`,
    `Costs.fft_training`).
    """
    return _choose(algorithm, batch or 1, tuple(padded_sizes), tuple(kernel_extents), tuple(kernel_size),
                   tuple(outputs), channels, filters, groups, itemsize, backend_name,
                   None if spatial is None else tuple(spatial),
                   None if padding is None else tuple(tuple(pair) for pair in padding), padding_mode,
                   config.fft_memory_budget(), bool(training))


@functools.lru_cache(maxsize=4096)
def _choose(algorithm, batch, padded_sizes, kernel_extents, kernel_size, outputs, channels, filters, groups,
            itemsize, backend_name, spatial, padding, padding_mode, budget, training=False):
    if spatial is not None:
        plan = fft_plan(spatial, kernel_extents, kernel_size, padding, padding_mode, batch, channels, filters,
                        groups, itemsize, backend_name, budget)
        lengths, memory, fft = plan.lengths, plan.memory, plan.cost_us
    else:
        lengths = fft_lengths(padded_sizes)
        by_dft = kernel_by_dft(kernel_size, lengths, backend_name, itemsize)
        memory = fft_memory_bytes(batch, channels, filters, groups, lengths, itemsize,
                                  _packed(batch, channels, filters, groups, lengths, backend_name, by_dft))
        fft = fft_cost_us(batch, channels, filters, groups, lengths, backend_name, kernel_size, itemsize)
    if algorithm == "fft":
        if memory > budget:
            raise StructconvError(
                f"algorithm='fft' needs an estimated {memory / 2**20:.1f} MiB of working memory (FFT lengths "
                f"{lengths}), over the budget of {budget / 2**20:.1f} MiB. Use algorithm='direct' or 'auto', "
                "or raise the budget with structconv.config.set_fft_memory_budget()."
            )
        return "fft"
    if algorithm == "direct" or memory > budget or math.prod(kernel_size) < FFT_MIN_TAPS:
        return "direct"
    direct = direct_cost_us(batch, outputs, kernel_size, channels, filters, groups, backend_name,
                            padded_sizes, itemsize)
    c = costs(backend_name)
    if direct < TINY_OVERHEADS * c.fft_overhead_us:
        return "direct"
    rank = len(kernel_size)
    if training:
        direct *= _per_rank(c.direct_training, rank)
        fft *= _per_rank(c.fft_training, rank)
    margin = _per_rank(c.fft_margin, rank)
    return "fft" if fft * margin < direct else "direct"


def explain_choice(input_shape, kernel_shape, *, strides=1, padding="valid", dilation_rate=1, groups=1,
                   data_format=None, padding_mode="zeros", dtype="float32", backend_name=None,
                   training=False):
    """What `algorithm="auto"` picks for `ops.conv` on these static shapes, and the model's reasons.

    Args:
        input_shape: `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.
        kernel_shape: `(*kernel_size, channels / groups, filters)`.
        strides, padding, dilation_rate, groups, data_format, padding_mode: as for `ops.conv`.
        dtype: `"float32"` or `"float64"`.
        backend_name: whose constants to use; the active Keras backend by default.
        training: whether the gradient will be taken (the choice then weighs forward + backward; the
            modelled times stay those of the forward pass).

    Returns:
        A dict: `"algorithm"` (`"direct"` or `"fft"`), the modelled `"direct_us"` and `"fft_us"`
        (microseconds), the FFT plan's `"fft_lengths"` and `"fft_memory_bytes"`, and `"budget_bytes"`.

    Example:

    >>> info = explain_choice((1, 64, 3), (3, 3, 4), padding="same")
    >>> info["algorithm"]  # a kernel of fewer than FFT_MIN_TAPS taps always runs direct
    'direct'
    >>> info["fft_memory_bytes"] <= info["budget_bytes"]
    True
    """
    import keras

    from structconv.ops.arguments import conv_arguments, resolve_padding, split_shape
    from structconv.shapes import arithmetic

    rank = len(input_shape) - 2
    args = conv_arguments(rank, strides, padding, dilation_rate, groups, data_format, padding_mode,
                          default_data_format=keras.config.image_data_format())
    spatial, channels = split_shape(tuple(input_shape), args.data_format)
    kernel_size, filters = tuple(kernel_shape[:rank]), kernel_shape[-1]
    pads = resolve_padding(spatial, kernel_size, args)
    extents = tuple(arithmetic.effective_kernel_size(k, d) for k, d in zip(kernel_size, args.dilation_rate))
    padded = tuple(n + before + after for n, (before, after) in zip(spatial, pads))
    outputs = tuple((n - e) // s + 1 for n, e, s in zip(padded, extents, args.strides))
    backend_name = backend_name or keras.backend.backend()
    itemsize, budget, batch = 8 if dtype == "float64" else 4, config.fft_memory_budget(), input_shape[0] or 1
    plan = fft_plan(tuple(spatial), extents, kernel_size, pads, args.padding_mode, batch, channels, filters,
                    args.groups, itemsize, backend_name, budget)
    return {
        "algorithm": _choose("auto", batch, padded, extents, kernel_size, outputs, channels, filters,
                             args.groups, itemsize, backend_name, tuple(spatial), pads, args.padding_mode,
                             budget, bool(training)),
        "direct_us": direct_cost_us(batch, outputs, kernel_size, channels, filters, args.groups, backend_name,
                                    padded, itemsize),
        "fft_us": plan.cost_us,
        "fft_lengths": plan.lengths,
        "fft_memory_bytes": plan.memory,
        "budget_bytes": budget,
    }
