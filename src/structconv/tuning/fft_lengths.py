"""Whether this machine's real FFT is slow at odd lengths: a probe of the backend's real FFT at many lengths
and a fit of `Strategy.fft_odd_length_weight` (`ops.fft_geometry.length_cost`), run by `structconv
calibrate`.

The FFT convolution pads each axis to a length whose only prime factors are 2, 3, 5 and 7; the last axis's
transform is real. torch's real FFT (Intel MKL, 2 threads of an Intel Xeon) ran odd lengths 2-4x slower per
flop than powers of two (243 against 256, 1029 against 1024), and FFT convolutions padded to an even
length on that axis instead ran 0.8-0.9x the time (`benchmarks/fft_lengths.py`); JAX's (ducc) and
TensorFlow's real FFTs showed no such penalty. Weights per exponent of 3, 5 and 7 fitted to the same 1-D
times picked lengths slower in 2-D (torch, 230^2: 240 x 256 took 1.23x the time of 240 x 240), so only
oddness is weighed. The probe times a real FFT and its inverse (the pair a convolution runs) of
`PROBE_POINTS` samples in rows of each length of `PROBE_LENGTHS`, in the form the backend runs them
(`compile_for_timing`), in interleaved rounds; it fits `log(time / (L log2 L))` to a constant, `log2 L`
and oddness, and keeps the weight only where the lengths it picks run faster than the smallest ones by
`KEEP_BELOW` on both halves of the lengths when fitted on the other half (so that a noisy probe keeps the
smallest lengths).
"""

import math
import time

import numpy as np

from structconv._backend import get_backend
from structconv.ops.fft_geometry import cheapest_length, smooth_lengths
from structconv.tuning import autotune

# Every third length of 2, 3, 5 and 7 between 32 and 4096: 76 lengths.
PROBE_LENGTHS = tuple(smooth_lengths(32, 4096)[::3])
PROBE_POINTS = 2**18
ROUNDS = 5
CALLS_PER_ROUND = 3
# The weight is kept where its picks take at most this share of the smallest lengths' time (geometric mean
# over the needed lengths of the probe), on held-out lengths.
KEEP_BELOW = 0.95


def _timed_runs(lengths, device):
    backend = get_backend()
    rng = np.random.default_rng(0)
    runs = {}
    for n in lengths:
        rows = max(4, PROBE_POINTS // n)
        x = rng.standard_normal((rows, n)).astype("float32")

        def transform_pair(values, n=n):
            return backend.irfftn(backend.rfftn(values, (1,), (n,)), (1,), (n,))

        run = backend.compile_for_timing(transform_pair, [x], False, device, dtype="float32")
        run()
        run()
        runs[n] = run
    return runs


def time_lengths(lengths=PROBE_LENGTHS, device="cpu", seconds=30.0):
    """`{length: seconds}` of a real FFT and its inverse of `PROBE_POINTS` samples at each of `lengths`:
    the median over up to `ROUNDS` interleaved rounds (within about `seconds`) of each round's fastest
    of `CALLS_PER_ROUND` calls."""
    return autotune.interleaved_medians(_timed_runs(lengths, device), ROUNDS, CALLS_PER_ROUND, seconds)


def fit_weight(times):
    """The odd-length weight of a least-squares fit of `log(time / (L log2 L))` to a constant, `log2 L`
    and oddness, from `{length: seconds}`."""
    lengths = sorted(times)
    features = np.array([[1.0, math.log2(n), n % 2] for n in lengths])
    target = np.array([math.log(times[n] / (n * math.log2(n))) for n in lengths])
    return round(float(np.linalg.lstsq(features, target, rcond=None)[0][2]), 3)


def pick_ratio(times, odd_weight):
    """The geometric mean, over every needed length from the shortest of `times` to half the longest,
    of the time of the length `odd_weight` picks (`fft_geometry.cheapest_length`, the planner's rule, among
    the lengths of `times` up to the next power of two) over that of the smallest one of `times`."""
    lengths = sorted(times)
    logs = []
    for need in range(lengths[0], lengths[-1] // 2 + 1):
        bound = 1 << (need - 1).bit_length()
        fitting = [n for n in lengths if need <= n <= bound]
        if not fitting:
            continue
        picked = cheapest_length(fitting, odd_weight)
        logs.append(math.log(times[picked] / times[fitting[0]]))
    return math.exp(sum(logs) / len(logs)) if logs else 1.0


def choose_weight(times):
    """`(weight, line)`: the odd-length weight fitted to all of `times` where, fitted to either half of the
    lengths (alternate ones), its picks among the other half's take at most `KEEP_BELOW` of the smallest
    lengths' time, else 0.0 (the smallest lengths); and a line saying what was seen."""
    lengths = sorted(times)
    halves = [{n: times[n] for n in lengths[i::2]} for i in (0, 1)]
    held_out = [pick_ratio(halves[1 - i], fit_weight(halves[i])) for i in (0, 1)]
    weight = fit_weight(times)
    seen = ", ".join(f"{ratio:.2f}x" for ratio in held_out)
    if weight > 0 and all(ratio <= KEEP_BELOW for ratio in held_out):
        return weight, (f"odd lengths avoided (an odd length's transform {math.exp(weight):.2f}x an even "
                        f"one's per L log2 L; the lengths so picked took {seen} the smallest lengths' time "
                        "on held-out lengths)")
    return 0.0, (f"smallest lengths (an odd length's transform {math.exp(weight):.2f}x an even one's per "
                 f"L log2 L; avoiding odd ones would take {seen} their time on held-out lengths, kept "
                 f"below {KEEP_BELOW})")


def probe(device="cpu", seconds=30.0, lengths=PROBE_LENGTHS):
    """`{"fft_odd_length_weight", "report", "seconds"}` for this machine and the active backend."""
    started = time.perf_counter()
    weight, report = choose_weight(time_lengths(lengths, device, seconds))
    return {"fft_odd_length_weight": weight, "report": report, "seconds": time.perf_counter() - started}
