"""Choosing between direct and FFT convolution: a calibrated cost model and a memory estimate.

Both costs are estimated from static shapes, in microseconds, per backend:

- direct: `2 * batch * outputs * taps * (channels / groups) * filters` flops at the backend's measured
  direct-convolution rate;
- FFT: `batch * channels + (channels / groups) * filters + batch * filters` real FFTs of `N` points at
  `5 * N * log2(N) / 2` flops each at the measured FFT rate, plus the spectral product,
  `8 * batch * (channels / groups) * filters * N / 2` flops, at the measured product rate.

Each rate is a constant per backend below, measured on the project's 2-core CPU machine by
`benchmarks/calibrate_fft.py`. The choice runs in Python on static shapes when the op is traced, so it costs
nothing per step.
"""

import math

from structconv import config
from structconv.errors import StructconvError, invalid_argument

ALGORITHMS = ("auto", "direct", "fft")

# Effective rates in Gflop/s: (direct convolution, FFT, spectral product). Measured by
# benchmarks/calibrate_fft.py on the 2-core CPU machine (see docs/benchmarks.md).
RATES = {
    "torch": (40.0, 3.0, 4.0),
    "jax": (40.0, 3.0, 4.0),
    "tensorflow": (40.0, 3.0, 4.0),
}
# Fixed cost of one FFT convolution call beyond its flops (microseconds): transposes, casts, slicing.
FFT_OVERHEAD_US = 200.0


def normalize_algorithm(algorithm):
    if isinstance(algorithm, str) and algorithm.lower() in ALGORITHMS:
        return algorithm.lower()
    raise invalid_argument("algorithm", algorithm, " or ".join(repr(a) for a in ALGORITHMS))


def fft_lengths(padded_sizes):
    from structconv.ops.fft_conv import fast_length

    return tuple(fast_length(n) for n in padded_sizes)


def fft_memory_bytes(batch, channels, filters, groups, lengths, itemsize):
    """Working memory of one FFT convolution: the real padded input and output, and the three spectra."""
    points = math.prod(lengths)
    half = points // lengths[-1] * (lengths[-1] // 2 + 1)
    spectra = (batch * channels + (channels // groups) * filters + batch * filters) * half
    real = (batch * channels + batch * filters) * points
    return 2 * itemsize * spectra + itemsize * real


def direct_cost_us(batch, outputs, kernel_size, channels, filters, groups, backend_name):
    flops = 2.0 * batch * math.prod(outputs) * math.prod(kernel_size) * (channels // groups) * filters
    return flops / (RATES[backend_name][0] * 1e3)


def fft_cost_us(batch, channels, filters, groups, lengths, backend_name):
    _, fft_rate, product_rate = RATES[backend_name]
    points = math.prod(lengths)
    transforms = batch * channels + (channels // groups) * filters + batch * filters
    fft_flops = transforms * 2.5 * points * math.log2(max(points, 2))
    product_flops = 8.0 * batch * (channels // groups) * filters * points / 2
    return fft_flops / (fft_rate * 1e3) + product_flops / (product_rate * 1e3) + FFT_OVERHEAD_US


def choose_algorithm(algorithm, *, batch, padded_sizes, kernel_extents, kernel_size, outputs, channels,
                     filters, groups, itemsize, backend_name):
    """Returns `"direct"` or `"fft"` for one convolution; raises if `"fft"` is over the memory budget."""
    batch = batch or 1
    lengths = fft_lengths(padded_sizes)
    memory = fft_memory_bytes(batch, channels, filters, groups, lengths, itemsize)
    budget = config.fft_memory_budget()
    if algorithm == "fft":
        if memory > budget:
            raise StructconvError(
                f"algorithm='fft' needs an estimated {memory / 2**20:.1f} MiB of working memory (FFT lengths "
                f"{lengths}), over the budget of {budget / 2**20:.1f} MiB. Use algorithm='direct' or 'auto', "
                "or raise the budget with structconv.config.set_fft_memory_budget()."
            )
        return "fft"
    if algorithm == "direct" or memory > budget:
        return "direct"
    direct = direct_cost_us(batch, outputs, kernel_size, channels, filters, groups, backend_name)
    fft = fft_cost_us(batch, channels, filters, groups, lengths, backend_name)
    return "fft" if fft < direct else "direct"
