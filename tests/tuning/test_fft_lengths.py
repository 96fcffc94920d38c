"""The FFT-length probe: its fit recovers the odd-length weight from times that follow it, keeps the smallest
lengths where avoiding odd ones gains nothing on held-out lengths, runs on the active backend, and FFT plans
at lengths so picked compute the convolution (forward and gradients against NumPy)."""

import dataclasses
import math

import keras
import numpy as np
import pytest
from conftest import assert_plan_matches_reference, conv_problem_of, tensor
from reference import conv_reference, conv_transpose_full_reference, padding_pairs

from structconv.ops import candidate_plans
from structconv.ops.fft_geometry import length_cost, smooth_lengths
from structconv.tuning import fft_lengths, profile

BACKEND = keras.backend.backend()
LENGTHS = tuple(smooth_lengths(32, 4096)[::3])


def _times(odd_weight, size_trend=0.0, noise=0.0, seed=0):
    """Times that follow `length_cost` under `odd_weight` (seconds), with a trend in `log2 L` and noise."""
    rng = np.random.default_rng(seed)
    return {n: 1e-9 * length_cost(n, odd_weight) * math.exp(size_trend * math.log2(n))
            * math.exp(noise * rng.standard_normal()) for n in LENGTHS}


def test_the_fit_recovers_the_weight_and_keeps_it_where_it_picks_faster_lengths():
    times = _times(0.7, size_trend=-0.2, noise=0.02)
    assert fft_lengths.fit_weight(times) == pytest.approx(0.7, abs=0.03)
    kept, line = fft_lengths.choose_weight(times)
    assert kept == pytest.approx(0.7, abs=0.03) and line.startswith("odd lengths avoided")
    assert fft_lengths.pick_ratio(times, kept) < fft_lengths.KEEP_BELOW


@pytest.mark.parametrize("odd_weight", [0.0, 0.05])
def test_times_without_a_clear_odd_penalty_keep_the_smallest_lengths(odd_weight):
    # L log2 L times with 10% noise, odd ones up to 5% slower: avoiding them gains too little.
    kept, line = fft_lengths.choose_weight(_times(odd_weight, noise=0.1, seed=1))
    assert kept == 0.0 and line.startswith("smallest lengths")
    assert fft_lengths.pick_ratio(_times(0.0), 0.0) == 1.0


def test_the_probe_times_the_backends_real_fft():
    found = fft_lengths.probe(lengths=(60, 63, 64, 120, 125, 128, 243, 256))
    assert found["fft_odd_length_weight"] >= 0.0
    assert found["report"] and 0 < found["seconds"] < 60


def test_a_profile_calibrated_before_the_probe_takes_the_shipped_weight(fresh_cache):
    from structconv.tuning import fingerprint, storage

    shipped = profile.shipped(BACKEND, "cpu")
    mine = dataclasses.replace(shipped, source="calibrated",
                               strategy=dataclasses.replace(shipped.strategy, fft_odd_length_weight=2.5))
    machine = fingerprint.fingerprint_id(fingerprint.fingerprint(BACKEND, "cpu"))
    path = profile.save_calibrated(mine, machine, {"machine": "test"})
    assert profile.calibrated(BACKEND, "cpu", machine).strategy.fft_odd_length_weight == 2.5
    older = storage.read_json(path)
    del older["strategy"]["fft_odd_length_weight"]
    storage.write_json(path, older)
    profile.forget_loaded()
    loaded = profile.calibrated(BACKEND, "cpu", machine)
    assert loaded.strategy.fft_odd_length_weight == shipped.strategy.fft_odd_length_weight


@pytest.mark.parametrize("spatial, kernel, padding, transposed", [
    ((41,), (5,), "same", False),          # whole: 43 -> 45 smallest, 48 weighing odd lengths
    ((7, 117), (3, 9), "valid", False),    # blocks of 4 * 9 = 36 on the last axis; whole 117 -> 120
    ((5, 8, 19), (2, 3, 5), "same", False),
    ((6, 19), (3, 6), None, True),         # full transposed: 24 -> 24, and 11 -> 12
])
def test_fft_plans_at_weighed_lengths_compute_the_convolution(spatial, kernel, padding, transposed):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, *spatial, 2))
    k = rng.standard_normal((*kernel, 3, 2) if transposed else (*kernel, 2, 3))
    arguments = {} if transposed else {"padding": padding}
    problem, _ = conv_problem_of(tensor(x, "float64"), tensor(k, "float64"), transposed=transposed,
                                 **arguments)
    shipped = profile.shipped(BACKEND, "cpu")
    weighed = dataclasses.replace(shipped, strategy=dataclasses.replace(
        shipped.strategy, fft_odd_length_weight=0.73))
    plans = [p for p in candidate_plans.candidates(problem, weighed) if p.algorithm == "fft"]
    assert plans and all(p.fft.lengths[-1] % 2 == 0 for p in plans)

    def reference(a, b):  # a transposed problem is the full transposed convolution
        rank = len(spatial)
        if transposed:
            return conv_transpose_full_reference(a, b, (1,) * rank, (1,) * rank)
        pairs = padding_pairs(padding, spatial, kernel, (1,) * rank, (1,) * rank)
        return conv_reference(a, b, (1,) * rank, pairs, (1,) * rank)

    for plan in plans:
        assert_plan_matches_reference(plan, problem, x, k, reference, rng)
