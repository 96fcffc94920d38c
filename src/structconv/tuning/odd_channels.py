"""How much slower this machine's convolution runs an odd number of input channels than one zero channel
more: a probe of the backend's convolution at a table of channel and filter counts, run by `structconv
calibrate`, whose factors the cost model prices the plain convolution by (`Strategy.odd_channel_factors`).

JAX's 2-D CPU convolutions go to XLA's YNNPACK kernels, which ran odd input channel counts far slower than
the next even count, by amounts no flop count explains and that jump with the filters (2 threads of an
Intel Xeon with AVX-512, jaxlib 0.10.2, 8 x 56^2, 3x3, forward, odd over even: 3 channels into 17-24
filters 11-12x, into 32 4.5x, into 8-16 or 48-128 0.85-1.07x; 7 channels into 8-48 filters 1.6-4.4x; 9
into 48 filters 0.43x; 45 into 17-32 1.3x; training steps 0.8-3.9x). The planner offers such a
convolution on one zero channel more (`ops.even_channels`) where the backend says odd counts can be slow
(`odd_channels_slow`), and measuring times both; without measuring, the model alone needs to know the
factor: it had priced a 4-D 13^4 k=3 3 -> 3 forward decomposed onto 3 -> 27 2-D convolutions at 0.90 ms,
which took 3.96 (4.82x the fastest plan's time; docs/benchmarks.md, session 46).

The probe times the backend's convolution (`conv`, the one direct plans run) and the same on padded
channels (`even_channels_conv`) at every count of `PROBE_CHANNELS` into every count of `PROBE_FILTERS`,
on one shape (`PROBE_BATCH` x `PROBE_SIZE`^2, `PROBE_KERNEL` taps an axis, padded to the same size),
forward and with the gradient, in the form the backend runs them (`compile_for_timing`), in interleaved
rounds; each factor is the plain convolution's time over the padded one's. Where the backend never
offers padded channels, it times nothing and the table stays empty (the model then prices the plain
convolution by its flops).
"""

import time

import numpy as np

from structconv._backend import get_backend
from structconv.ops.even_channels import even_channels_conv
from structconv.tuning import autotune

PROBE_CHANNELS = (3, 5, 7, 9, 15, 27, 45)
PROBE_FILTERS = (8, 16, 24, 32, 48, 64)
PROBE_BATCH = 4
PROBE_SIZE = 32
PROBE_KERNEL = 3
ROUNDS = 7
CALLS_PER_ROUND = 3


def probed(device="cpu"):
    """Whether the active backend's convolution of odd channel counts is offered on padded ones on
    `device` (`odd_channels_slow` at the probe's shape), so that the probe has anything to time."""
    return any(get_backend().odd_channels_slow(2, channels, 1, "float32", device)
               for channels in PROBE_CHANNELS)


def _runs(channels, filters, training, device):
    """`(plain, padded)`: callables running the backend's convolution of `channels` into `filters` at the
    probe's shape, as it is and on one zero channel more."""
    backend = get_backend()
    rng = np.random.default_rng(channels * 1000 + filters)
    x = rng.standard_normal((PROBE_BATCH, PROBE_SIZE, PROBE_SIZE, channels)).astype("float32")
    kernel = rng.standard_normal((PROBE_KERNEL, PROBE_KERNEL, channels, filters)).astype("float32")
    runs = []
    for conv in (backend.conv, even_channels_conv(backend.conv)):
        def convolve(values, weights, conv=conv):
            return conv(values, weights, (1, 1), ((PROBE_KERNEL // 2, PROBE_KERNEL // 2),) * 2, (1, 1), 1,
                        "channels_last")

        run = backend.compile_for_timing(convolve, [x, kernel], training, device, dtype="float32")
        run()
        runs.append(run)
    return runs


def _time_pair(plain, padded):
    """The plain call's time over the padded one's: per run the median over `ROUNDS` interleaved rounds
    of each round's fastest of `CALLS_PER_ROUND` calls."""
    times = autotune.interleaved_medians({"plain": plain, "padded": padded}, ROUNDS, CALLS_PER_ROUND)
    return times["plain"] / times["padded"]


def probe(device="cpu", seconds=20.0, channels=None, filters=None):
    """`{"odd_channel_factors", "report", "seconds"}` for this machine and the active backend: rows
    `(channels, filters, forward factor, training factor)` (the plain convolution's time over the padded
    one's; empty where the backend offers no padded channels) at each count of `channels` (default
    `PROBE_CHANNELS`) into each of `filters` (`PROBE_FILTERS`), filled in order of the channels until
    `seconds` are spent (the first count always) (the counts left out are priced by their flops)."""
    started = time.perf_counter()
    if not probed(device):
        return {"odd_channel_factors": (), "report": "not probed (odd channel counts are not offered on "
                "padded ones here)", "seconds": time.perf_counter() - started}
    rows = []
    for count in channels or PROBE_CHANNELS:
        if rows and time.perf_counter() - started > seconds:
            break
        for into in filters or PROBE_FILTERS:
            factors = [round(_time_pair(*_runs(count, into, training, device)), 3)
                       for training in (False, True)]
            rows.append((count, into, *factors))
    return {"odd_channel_factors": tuple(rows), "report": report(rows),
            "seconds": time.perf_counter() - started}


def report(rows):
    """A line saying what the probe found: how many of its rows run the plain convolution slower than
    the padded one by over 1.2x, forward and with the gradient, and the largest factors."""
    if not rows:
        return "no odd channel counts timed"
    slow = [sum(row[i] > 1.2 for row in rows) for i in (2, 3)]
    worst = [max(row[i] for row in rows) for i in (2, 3)]
    return (f"{len(rows)} pairs of channels and filters; odd channels over 1.2x slower than on one zero "
            f"channel more at {slow[0]} forward (up to {worst[0]:.1f}x) and {slow[1]} with the gradient "
            f"(up to {worst[1]:.1f}x)")

