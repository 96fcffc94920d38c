"""How fast this machine's convolution runs without padding where the backend says that may be slow: a probe
of the backend's convolution with no padding and the same with one output row more on zero padding
(`ops.padded_row`), run by `structconv calibrate`, whose rate the cost model prices unpadded forward
convolutions at (`Strategy.unpadded_gflops_per_filter`).

JAX's 2-D CPU convolutions go to XLA's YNNPACK kernels, which ran unpadded ones of more than 16 input
channels at about 1.0-2.7 Gflop/s per filter (2 threads of an Intel Xeon, family 6 model 167, jaxlib 0.10.2,
8 x 54x64 forward: 32 -> 2 by 6x6 1.3, 64 -> 3 by 5x5 1.3, 32 -> 16 by 3x3 2.7, 64 -> 64 by 3x3 1.0), where
padded ones ran at their usual 25-200; training steps of 2-D ones were not slowed. Without the rate the model
priced a 3-D valid forward's decomposition onto 96 -> 2 2-D convolutions at 0.19 s, which ran 4.8-6.6 s a
call, and measuring called it (21 s to its first call; `benchmarks/auto_vs_forced.py --varied --seed 540`,
session 55). The probe times one slow-looking convolution (`PROBE_*`) both ways, forward, in the form the
backend runs them (`compile_for_timing`), in interleaved rounds; where the unpadded one is over `SLOW`
times the padded one, its rate per filter is the probed rate, else 0 (nothing slow to price).
"""

import math
import time

import numpy as np

from structconv._backend import get_backend
from structconv.ops.padded_row import padded_row_conv
from structconv.tuning import autotune

# The probe's shape: 4 x 64^2, 32 -> 2 by 5x5. At 32^2 the unpadded convolution ran 3.3-3.9x slower than
# padded, at 5.8 Gflop/s per filter; at 54^2-64^2 (batch 4-16) 19-21x, at 1.21-1.25 (about 0.5 s of
# probing): the larger images' rate, at which the model then prices smaller ones too slow, where their
# padded twin was faster all the same.
PROBE_BATCH = 4
PROBE_SIZE = 64
PROBE_KERNEL = 5
PROBE_CHANNELS = 32
PROBE_FILTERS = 2
ROUNDS = 7
CALLS_PER_ROUND = 3
# The unpadded convolution's time over the padded one's past which it is priced by the probed rate.
SLOW = 1.5


def probed(device="cpu"):
    """Whether the active backend offers padded twins of unpadded convolutions at the probe's shape."""
    return get_backend().unpadded_slow(2, PROBE_CHANNELS, 1, "float32", device)


def probe(device="cpu"):
    """`{"unpadded_gflops_per_filter", "report", "seconds"}` for this machine and the active backend."""
    started = time.perf_counter()
    if not probed(device):
        return {"unpadded_gflops_per_filter": 0.0, "report": "not probed (no padded twins here)",
                "seconds": time.perf_counter() - started}
    backend = get_backend()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((PROBE_BATCH, PROBE_SIZE, PROBE_SIZE, PROBE_CHANNELS)).astype("float32")
    kernel = rng.standard_normal((PROBE_KERNEL, PROBE_KERNEL, PROBE_CHANNELS, PROBE_FILTERS))
    kernel = kernel.astype("float32")
    runs = {}
    for name, conv in (("plain", backend.conv), ("padded", padded_row_conv(backend.conv))):
        def convolve(values, weights, conv=conv):
            return conv(values, weights, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, "channels_last")

        runs[name] = backend.compile_for_timing(convolve, [x, kernel], False, device, dtype="float32")
        runs[name]()
    times = autotune.interleaved_medians(runs, ROUNDS, CALLS_PER_ROUND)
    outputs = (PROBE_SIZE - PROBE_KERNEL + 1) ** 2
    flops = 2.0 * PROBE_BATCH * outputs * PROBE_KERNEL**2 * PROBE_CHANNELS * PROBE_FILTERS
    factor = times["plain"] / times["padded"]
    rate = flops / times["plain"] / PROBE_FILTERS / 1e9 if factor > SLOW else 0.0
    report = (f"{PROBE_CHANNELS} -> {PROBE_FILTERS} by {PROBE_KERNEL}x{PROBE_KERNEL} unpadded "
              f"{factor:.1f}x the time with a padded row" + (f": {rate:.2f} Gflop/s per filter" if rate else
                                                              ": not priced"))
    return {"unpadded_gflops_per_filter": round(rate, 3) if math.isfinite(rate) else 0.0, "report": report,
            "seconds": time.perf_counter() - started}
