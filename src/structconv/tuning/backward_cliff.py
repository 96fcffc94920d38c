"""Where the gradient of the backend's convolution leaves its fast path: found by bisection on kernel size.

On a 2-vCPU AMD EPYC with AVX-512 (oneDNN under both TensorFlow and torch), a 2-D convolution's forward +
backward took 1-5x its forward up to 14x14 taps and 25-420x from 14x16 or 15x15 on (128^2, 8 channels,
k=15: forward 10.8 ms, with gradients 1985 ms on TensorFlow; 8.4 and 1150 ms on torch); TensorFlow's 1-D
convolution from 65 taps at batch 1 (49: 3-4x, 65: 9-294x), from 129 at batch 2, not up to 129 at batch
4; 3-D up to 11^3, torch's 1-D and XLA's convolutions showed none (measured 2026-12-03, docs/fft.md). One
factor per rank cannot price that: a calibrated model priced such a 2-D step at 42 ms where it took 4 s,
and picked direct against a 31 ms FFT plan. The threshold depends on the library build and the CPU's
instruction set, so it is measured on the user's machine, at batch 1 (where it is lowest: a model that
prices a direct gradient too high picks FFT, which at 65 taps and more is rarely much slower).

For each rank, square kernels of a `LADDERS` are timed forward and with gradients (the fastest direct plan
the model sees, in the form it runs: `tuning.autotune`) on a small input, after one warm-up pair. A kernel
is past the cliff when its training / forward ratio (at least 1) is more than `JUMP` times that of the
largest kernel known to be before it; the ladder's ends are timed first (no cliff when the largest kernel
is not past it), then the ladder is bisected, and a jump only between two neighbouring kernels counts (a
ratio that rises gradually along the ladder is no cliff). Past the cliff the gradient's flops are priced
at the rate of the first kernel past it: its time over what its forward times the ratio before the cliff
would make.
"""

import functools
import time

from structconv.ops import candidate_plans, cost_model
from structconv.tuning import autotune
from structconv.tuning.square_problem import square_problem

# rank: (size per axis, channels, square kernel sizes), batch 1; small inputs so that past the cliff a step
# costs at most half a second, enough channels that the slow path stands out of the small calls' overhead
# (TensorFlow 1-D, 4096 samples, k=65: 9x its forward with 2 channels, 118x with 8).
LADDERS = {
    1: (4096, 8, (9, 17, 33, 49, 65, 97, 129, 193, 257)),
    2: (48, 4, (3, 5, 7, 9, 11, 13, 14, 15, 17, 19, 23, 31)),
    3: (16, 2, (3, 5, 7, 9, 11, 13)),
}
# Past the cliff the ratio grew 7-100x between neighbouring kernels (14 -> 15 taps per axis); along a
# ladder without one it moved at most 2x (XLA 2-D, k=14 -> 21; torch 1-D, k=9 -> 257).
JUMP = 4.0


def _ratio(pair):
    """Training over forward time of a timed `(forward_us, training_us)` pair, None where one failed; at
    least 1: a gradient never costs less than the forward, and a disturbed forward that made the ratio
    0.6 must not make the next kernel's normal 2.8 a jump."""
    forward, training = pair
    return max(training / forward, 1.0) if forward and training else None


def find(ladder, time_pair, jump=JUMP):
    """`(before, after, times)`: the largest kernel of `ladder` before the cliff and the smallest past it
    (None and None where there is none, or a timing failed), and `{k: (forward_us, training_us)}` of the
    kernels timed. `time_pair(k)` times one kernel; the ladder is bisected (module docstring)."""
    times = {}

    def ratio(index):
        k = ladder[index]
        if k not in times:
            times[k] = time_pair(k)
        return _ratio(times[k])

    lo, hi = 0, len(ladder) - 1
    first, last = ratio(lo), ratio(hi)
    if first is None or last is None or last <= jump * first:
        return None, None, times
    while hi - lo > 1:
        mid = (lo + hi) // 2
        at, before = ratio(mid), ratio(lo)
        if at is None:
            return None, None, times
        if at > jump * before:
            hi = mid
        else:
            lo = mid
    if ratio(hi) <= jump * ratio(lo):  # risen along the ladder, no jump between neighbours
        return None, None, times
    return ladder[lo], ladder[hi], times


def _fastest_direct(problem):
    """The direct plan the model prices cheapest, on the input as it is: the cliff is that of the backend's
    convolution of it (a channels-first copy, torch's candidate past it, has none)."""
    return min((p for p in candidate_plans.candidates(problem) if p.algorithm == "direct"
                and p.direct != "channels_first"), key=lambda p: p.modelled_us)


def _time_pair(backend_name, device, rank, size, channels, k):
    def timed(training):
        problem = square_problem(backend_name, device, rank, size, k, 1, channels, channels,
                                 training=training)
        return next(iter(autotune.measure(problem, [_fastest_direct(problem)]).values()))
    return timed(False), timed(True)


def _flops(rank, size, channels, k):
    return cost_model.direct_terms(1, (size,) * rank, (k,) * rank, channels, channels, 1, (size,) * rank,
                                   4)["flops"]


def _probe_rank(backend_name, device, rank):
    """`(taps, gflops, line)` of one rank: the taps before its cliff and the rate past it ((0, 1.0) where
    there is none), and what was seen."""
    size, channels, ladder = LADDERS[rank]
    before, after, times = find(ladder, functools.partial(_time_pair, backend_name, device, rank, size,
                                                          channels))
    timed = ", ".join(f"k={k}: {t / f:.1f}x" for k, (f, t) in sorted(times.items()) if f and t)
    if after is None:
        return 0, 1.0, f"no cliff up to {ladder[-1]}^{rank} taps (training/forward {timed})"
    forward, training = times[after]
    excess_us = max(training - _ratio(times[before]) * forward, 1e-3 * training)
    rate = _flops(rank, size, channels, after) / (excess_us * 1e3)
    return before**rank, float(f"{rate:.4g}"), (f"fast up to {before}^{rank} taps, slow from {after}^{rank} "
                                               f"({rate:.2f} Gflop/s; training/forward {timed})")


def probe(backend_name, device, seconds=60.0, ranks=None):
    """`{"direct_cliff_taps", "direct_cliff_gflops", "report", "seconds"}`: per rank 1..max(ranks) the
    taps past which the gradient leaves the fast path (0: none found, or the rank not probed within
    `seconds`) and the rate of its flops past it, and a line per probed rank saying what was seen.
    `ranks`: those of `LADDERS` by default."""
    started = time.perf_counter()
    ranks = tuple(LADDERS) if ranks is None else ranks
    if ranks:  # warms the process up (a first call here ran 0.6x its training step)
        size, channels, ladder = LADDERS[min(ranks)]
        _time_pair(backend_name, device, min(ranks), size, channels, ladder[0])
    taps, rates, report = [], [], {}
    for rank in range(1, max(ranks) + 1):
        threshold, rate = 0, 1.0
        if rank in ranks and time.perf_counter() - started <= seconds:
            threshold, rate, report[f"rank {rank}"] = _probe_rank(backend_name, device, rank)
        taps.append(threshold)
        rates.append(rate)
    return {"direct_cliff_taps": tuple(taps), "direct_cliff_gflops": tuple(rates), "report": report,
            "seconds": time.perf_counter() - started}
