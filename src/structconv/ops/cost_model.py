"""The cost model: modelled times of the direct and FFT algorithms from static shapes, in microseconds.

With `B` the batch, `C` input and `F` output channels, `g` groups, `N` the points of one FFT (the product of
the FFT lengths) and `M` the complex points of one real spectrum:

- direct: `overhead + flops / rate[rank] + bytes / bandwidth`, with `2 * B * outputs * taps * (C / g) * F`
  flops (each counted `1 + half / (C / g * F / g) + output_half / (F / g)` times: few channels run
  below the rate) and the bytes of the (padded) input and of the output; past a rank's large-kernel
  threshold, at that rank's large-kernel rate (`direct_rate`).
- FFT: `overhead` plus, each at its own rate, the `B * C` forward and `B * F` inverse real FFTs
  (`2.5 * N * log2(N)` flops each, a pass along an axis too long for a core's cache counted
  `OUT_OF_CACHE_FACTOR` times), the kernel's spectrum (`(C / g) * F` more FFTs, or a DFT by matrices, 8 flops
  per complex multiply-add, and `dft_stage_us` per axis: the DFT runs one matrix product per axis, each a few
  framework calls), the spectral product (`8 * B * (C / g) * F * M` flops) and memory traffic (the
  spectra, the real tensors at the FFT lengths, each buffer's bytes past `FRESH_BUFFER_BYTES` counted
  `FRESH_FACTOR` more times, and overlap-save copies, `FRAME_COPIES`).

The constants come from a profile (`structconv.tuning.profile`): fitted to measured times by
`structconv calibrate` on the user's machine, or shipped. The model is a guess that ranks candidates; where
it is not clearly sure, the planner measures (`ops.planner`). Pure Python, no framework import.
"""

import math

from structconv.ops.fft_geometry import dft_multiply_adds, spectrum_size
from structconv.tuning.profile import Costs

# Overlap-save copies per axis cut into blocks, of the input and of the output blocks (profiled: torch
# eager makes about 3 and 2 of them, XLA and TensorFlow fuse them into about one each way; docs/fft.md).
FRAME_COPIES = {"torch": (3, 2), "tensorflow": (1, 1), "jax": (1, 1)}
# An FFT pass along an axis whose complex data (`L * 2 * itemsize` bytes) exceeds a core's L2 cache runs
# from main memory: measured 3.6-4.2x slower per flop than cache-resident passes (2026-11-22). The default
# size is a profile's (`Costs.fft_cache_bytes`), which a calibrated profile replaces.
FFT_CACHE_BYTES = Costs.fft_cache_bytes
OUT_OF_CACHE_FACTOR = 4.0
# A working buffer past this size costs `FRESH_FACTOR` more times its excess in memory traffic: torch,
# XLA and TensorFlow hand their CPU buffers to malloc, which (glibc's dynamic mmap threshold stops at
# 32 MiB) maps such a buffer anew at each call and page-faults it in. The model priced FFT plans with big
# kernel spectra far too cheap: torch 2-D 307^2 k=14 16 -> 16 at batch 2 (a 105 MB kernel spectrum), the
# whole transform 171 ms against 52 ms in blocks of 8, and 4-D 20^4 8 -> 8 plans 2-3x their modelled time.
# Fitted on session 29's timed held-out shapes (`benchmarks/planner_replay.py`; a factor of 2 past 16 MiB,
# refitting each backend's rates on its grid): the model alone's picks within 1.15x rose from 46 to 48 of
# 61 (torch; worst 4.35x -> 1.71x) and 56 to 58 (TensorFlow; worst 2.46x -> 1.24x), JAX's and every grid
# and diagnostic pick unchanged (2-vCPU AMD EPYC without AVX-512, 2 threads).
FRESH_BUFFER_BYTES = 16 * 2**20
FRESH_FACTOR = 2.0


def per_rank(rates, rank):
    """The entry of `rank` in a tuple for ranks 1, 2, ...; the last entry holds for all higher ranks."""
    return rates[min(rank, len(rates)) - 1]


def direct_terms(batch, outputs, kernel_size, channels, filters, groups, padded_sizes, itemsize,
                 min_channels=1, channel_half=0.0, stacked_taps=1, stacked_along="inputs", output_half=0.0):
    """The direct algorithm's work: flops (at least `min_channels` input and output channels per group,
    each flop counted `1 + channel_half / pairs + output_half / outs` times for `pairs` channel pairs and
    `outs` output channels per group; where a
    decomposition stacks `stacked_taps` peeled taps along the input channels or the filters
    (`stacked_along`), both hold for the channels of the convolution it runs: 16 -> 1 channels with 2
    peeled taps run 32 -> 1 or 16 -> 2) and bytes of its (padded) input and output."""
    taps_in, taps_out = (stacked_taps, 1) if stacked_along == "inputs" else (1, stacked_taps)
    ins = max(channels // groups * taps_in, min_channels)
    stacked = ins * max(filters // groups * taps_out, min_channels)
    per_group = (stacked + channel_half + output_half * ins) / stacked_taps
    return {
        "flops": 2.0 * batch * math.prod(outputs) * math.prod(kernel_size) * per_group * groups,
        "memory": itemsize * batch * (channels * math.prod(padded_sizes) + filters * math.prod(outputs)),
    }


def fft_flops(lengths, itemsize=4, cache_bytes=FFT_CACHE_BYTES):
    """Flops of one real FFT of `lengths`, `2.5 * N * log2(N)`, each axis's pass counted
    `OUT_OF_CACHE_FACTOR` times when its complex data exceeds `cache_bytes`."""
    points = math.prod(lengths)
    passes = sum(math.log2(n) * (OUT_OF_CACHE_FACTOR if 2 * itemsize * n > cache_bytes else 1.0)
                 for n in lengths if n > 1)
    return 2.5 * points * max(passes, 1.0)


def fft_buffers(batch, channels, filters, groups, lengths, itemsize, packed=False):
    """Bytes of each working buffer of one FFT convolution: the kernel's spectrum (at every frequency when
    batch items are `packed` in pairs), the input's and the output's spectra, and the real input and
    output at the FFT lengths."""
    points, half = math.prod(lengths), spectrum_size(lengths)
    complex_bytes = 2 * itemsize
    return (complex_bytes * (channels // groups) * filters * (points if packed else half),
            complex_bytes * batch * channels * half, complex_bytes * batch * filters * half,
            itemsize * batch * channels * points, itemsize * batch * filters * points)


def fft_memory_bytes(batch, channels, filters, groups, lengths, itemsize, packed=False):
    """Working memory of one FFT convolution: the sum of its `fft_buffers`."""
    return sum(fft_buffers(batch, channels, filters, groups, lengths, itemsize, packed))


def fresh_bytes(buffers):
    """The bytes of `buffers` past `FRESH_BUFFER_BYTES` each: what a call page-faults in afresh."""
    return sum(max(0, size - FRESH_BUFFER_BYTES) for size in buffers)


def fft_terms(batch, channels, filters, groups, lengths, kernel_size, itemsize, kernel_by_dft, framed_axes=0,
              packed=False, backend_name="torch", cache_bytes=FFT_CACHE_BYTES):
    """The FFT algorithm's work per term: flops of the FFTs, of the kernel's DFT, of the product, and bytes
    of memory traffic. `batch` counts overlap-save blocks; `framed_axes` axes are cut into blocks."""
    points, half = math.prod(lengths), spectrum_size(lengths)
    pairs = (channels // groups) * filters
    transforms = batch * channels + batch * filters + (0 if kernel_by_dft else pairs)
    padded_kernel = 0 if kernel_by_dft else itemsize * pairs * points
    copies_in, copies_out = FRAME_COPIES.get(backend_name, FRAME_COPIES["torch"])
    framing = itemsize * batch * (copies_in * channels + copies_out * filters) * points * framed_axes
    buffers = fft_buffers(batch, channels, filters, groups, lengths, itemsize, packed)
    return {
        "fft": transforms * fft_flops(lengths, itemsize, cache_bytes),
        "dft": 8.0 * pairs * dft_multiply_adds(kernel_size, lengths, not packed) if kernel_by_dft else 0.0,
        "product": 8.0 * batch * pairs * half,
        "dft_stages": float(len(lengths)) if kernel_by_dft else 0.0,
        "memory": sum(buffers) + FRESH_FACTOR * fresh_bytes(buffers) + padded_kernel + framing,
    }


def direct_us(costs, batch, outputs, kernel_size, channels, filters, groups, padded_sizes, itemsize,
              stacked_taps=1, stacked_along="inputs", slowdown=1.0):
    """Modelled time of the direct algorithm (forward); `stacked_taps`: the taps a decomposition peels and
    stacks along a channel axis, `stacked_along` (1: the backend's own convolution; more: the
    decomposition's own time per call, `direct_decompose_us`, is added); `slowdown`: the rate divided by
    it (float64's, `float64_slowdown`)."""
    rank = len(outputs)
    terms = direct_terms(batch, outputs, kernel_size, channels, filters, groups, padded_sizes, itemsize,
                         costs.direct_min_channels, costs.direct_channel_half, stacked_taps, stacked_along,
                         costs.direct_output_half)
    rate = direct_rate(costs, rank, kernel_size) / slowdown
    return (costs.direct_overhead_us + (costs.direct_decompose_us if stacked_taps > 1 else 0.0)
            + terms["flops"] / (rate * 1e3) + terms["memory"] / (costs.direct_gbps * 1e3))


def float64_slowdown(costs, rank, dtype):
    """How many times slower than the float32 rates a direct convolution of `rank` in `dtype` computes:
    `Costs.direct_float64_factor` of the rank for float64 (the call's overhead and memory traffic keep their
    price), else 1."""
    return per_rank(costs.direct_float64_factor, rank) if dtype == "float64" else 1.0


def large_kernel(thresholds, rank, kernel_size):
    """Whether a direct convolution of `rank` with `kernel_size` is past the rank's large-kernel threshold
    in `thresholds` (per rank 1, 2, ...; none above the last entry: `Costs.direct_large_taps`), taps along
    the longest axis; 0: none."""
    threshold = thresholds[rank - 1] if rank <= len(thresholds) else 0
    return bool(threshold) and max(kernel_size) > threshold


def direct_rate(costs, rank, kernel_size):
    """The direct algorithm's rate (Gflop/s) for `rank` and `kernel_size`."""
    if large_kernel(costs.direct_large_taps, rank, kernel_size):
        return costs.direct_large_gflops[rank - 1]
    return per_rank(costs.direct_gflops, rank)


def native_nd_us(costs, batch, outputs, kernel_size, channels, filters, groups, padded_sizes, itemsize,
                 slowdown=1.0):
    """Modelled time of the backend's own convolution where the decomposition is a candidate beside it
    (XLA's on JAX's CPU from rank 3, Eigen's 3-D one on TensorFlow's CPU without oneDNN; forward), at
    `Costs.native_nd_gflops` with no channel model (XLA's rate barely moves with the channels); None where
    the profile has no rate (TensorFlow's)."""
    if not costs.native_nd_gflops:
        return None
    terms = direct_terms(batch, outputs, kernel_size, channels, filters, groups, padded_sizes, itemsize)
    return (costs.direct_overhead_us + terms["flops"] / (costs.native_nd_gflops / slowdown * 1e3)
            + terms["memory"] / (costs.direct_gbps * 1e3))


def direct_cliff_us(costs, rank, taps, flops):
    """Modelled time the gradient of a direct convolution of `rank` and `taps` (of the backend's own
    convolution: a decomposition's) adds past the backend's backward cliff (`Costs.direct_cliff_taps`):
    its `flops` at `direct_cliff_gflops`; 0 at or below the threshold, or where a rank has none."""
    threshold = per_rank(costs.direct_cliff_taps, rank)
    if not threshold or taps <= threshold:
        return 0.0
    return flops / (per_rank(costs.direct_cliff_gflops, rank) * 1e3)


def fft_us(costs, terms, rank):
    """Modelled time of the FFT algorithm (forward) from its `fft_terms`."""
    rates = {"fft": per_rank(costs.fft_gflops, rank), "dft": costs.dft_gflops,
             "product": costs.product_gflops, "memory": costs.fft_gbps}
    return (costs.fft_overhead_us + terms.get("dft_stages", 0.0) * costs.dft_stage_us
            + sum(work / (rates[name] * 1e3) for name, work in terms.items() if name in rates))
