"""The backward cliff: the bisection finds where a gradient leaves the fast path from as few timings as it
can, sees no cliff in a gradual rise, and the planner prices a direct training step past it by its own
term, so that the model alone no longer picks a step that runs 100x its forward."""

import keras
import pytest
from conftest import with_backward_cliff

from structconv.ops import candidate_plans, planner
from structconv.ops.algorithm import explain_choice
from structconv.tuning import backward_cliff, fit_rates, profile
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()
LADDER = (3, 5, 7, 9, 11, 13, 14, 15, 17, 19, 23, 31)


def _timings(ratio_of):
    """A `time_pair` whose forward takes 1 ms and whose training takes `ratio_of(k)` ms, and the kernels
    it was asked for."""
    asked = []

    def time_pair(k):
        asked.append(k)
        return 1000.0, 1000.0 * ratio_of(k)
    return time_pair, asked


def test_a_cliff_is_found_between_neighbours_by_bisection():
    time_pair, asked = _timings(lambda k: 3.0 if k <= 14 else 150.0)
    before, after, times = backward_cliff.find(LADDER, time_pair)
    assert (before, after) == (14, 15)
    assert len(asked) == len(set(asked)) <= 2 + 4  # the ends, then log2(12) rounded up
    assert times[15] == (1000.0, 150000.0)


@pytest.mark.parametrize("ratio_of", [
    lambda k: 3.0,  # flat
    lambda k: 1.0 + k / 3.0,  # rises 2 -> 11.3 along the ladder, 1.4x at most between neighbours
])
def test_no_cliff_without_a_jump_between_neighbours(ratio_of):
    time_pair, asked = _timings(ratio_of)
    assert backward_cliff.find(LADDER, time_pair)[:2] == (None, None)
    if ratio_of(LADDER[-1]) <= backward_cliff.JUMP * ratio_of(LADDER[0]):
        assert asked == [LADDER[0], LADDER[-1]]


def test_a_failed_timing_is_no_cliff():
    time_pair, _ = _timings(lambda k: 3.0 if k <= 14 else 150.0)
    failing = lambda k: (None, None) if k == 13 else time_pair(k)  # noqa: E731
    assert backward_cliff.find(LADDER, failing)[:2] == (None, None)


def test_the_probe_reports_taps_and_the_rate_past_the_cliff(monkeypatch):
    size, channels = 48, 2
    monkeypatch.setattr(backward_cliff, "LADDERS", {1: (512, 1, (9, 65)), 2: (size, channels, LADDER)})

    def fake_pair(backend_name, device, rank, size_, channels_, k):
        if rank == 1:
            return 100.0, 300.0
        return 1000.0, 2000.0 if k <= 14 else 90000.0  # 2x before the cliff, 90x past it
    monkeypatch.setattr(backward_cliff, "_time_pair", fake_pair)
    found = backward_cliff.probe(BACKEND, "cpu")
    assert found["direct_cliff_taps"] == (0, 14 * 14)
    # Past it: 90 ms, of which 2 x 1 ms is the forward at the ratio before it; the flops of a 48^2,
    # 2 -> 2 channel, 15x15 convolution: 2 multiply-adds per tap, output and channel pair.
    flops = 2 * size**2 * 15**2 * channels * channels
    assert found["direct_cliff_gflops"][1] == pytest.approx(flops / (88000.0 * 1e3), rel=1e-3)
    assert "no cliff" in found["report"]["rank 1"] and "14^2" in found["report"]["rank 2"]


def _cliff_profile(taps, gflops):
    return with_backward_cliff(profile.shipped(BACKEND, "cpu"), taps, gflops)


def _direct_us(problem, cliffed):
    """The backend's convolution of the input as it is (a channels-first copy, torch's candidate past the
    cliff, has none: tests/tuning/test_planner.py)."""
    return min(p.modelled_us for p in candidate_plans.candidates(problem, cliffed)
               if p.algorithm == "direct" and p.direct != "channels_first")


@pytest.mark.parametrize("training", [False, True])
def test_the_planner_prices_a_direct_gradient_past_the_cliff(training):
    plain = _cliff_profile((0,), (1.0,))  # the shipped torch profile has one in 2-D
    cliffed = _cliff_profile((0, 196), (1.0, 0.5))
    below = square_problem(BACKEND, "cpu", 2, 64, 14, 2, 4, 4, training=training)
    past = square_problem(BACKEND, "cpu", 2, 64, 15, 2, 4, 4, training=training)
    one_d = square_problem(BACKEND, "cpu", 1, 4096, 255, 2, 4, 4, training=training)
    for problem in (below, one_d):
        assert _direct_us(problem, cliffed) == _direct_us(problem, plain)
    flops = 2 * 2 * 64**2 * 15**2 * 4 * 4
    extra = flops / (0.5 * 1e3) if training else 0.0
    assert _direct_us(past, cliffed) == pytest.approx(_direct_us(past, plain) + extra, rel=1e-9)


def test_a_decomposition_is_priced_by_the_cliff_of_the_convolution_it_runs():
    """Above the backend's ranks the decomposition runs convolutions of the last axes' kernel."""
    backend_rank = 2 if BACKEND == "jax" else 3
    taps = (0, 0, 0) if backend_rank == 3 else (0, 0)
    cliffed = _cliff_profile(taps[:-1] + (5**backend_rank - 1,), (1.0,) * len(taps))
    plain = _cliff_profile((0,), (1.0,))
    problem = square_problem(BACKEND, "cpu", 4, 8, 5, 1, 2, 2, training=True)
    decomposed = [p for p in candidate_plans.candidates(problem, cliffed) if p.direct == "inputs"][0]
    unpriced = [p for p in candidate_plans.candidates(problem, plain) if p.direct == "inputs"][0]
    assert decomposed.modelled_us > unpriced.modelled_us


def test_the_model_alone_trains_past_the_cliff_by_fft(monkeypatch, autotune_mode):
    """The case the per-rank factor missed (a 2-D 228^2, 8 -> 8, 19x19 training step: 4 s direct on
    TensorFlow and torch here, 31 ms by FFT): with the cliff in the profile, the model alone picks FFT,
    and `explain_choice` says what the cliff added."""
    autotune_mode("off")
    problem = square_problem(BACKEND, "cpu", 2, 228, 19, 2, 8, 8, training=True)
    cliffed = _cliff_profile((0, 196), (0.5,))
    monkeypatch.setattr(candidate_plans, "profile_for", lambda *args, **kwargs: cliffed)
    assert planner.plan_conv(problem).algorithm == "fft"
    shapes = dict(input_shape=(2, 228, 228, 8), kernel_shape=(19, 19, 8, 8), padding="same")
    flops = 2 * 2 * 228**2 * 19**2 * 8 * 8
    assert explain_choice(**shapes, training=True)["direct_cliff_us"] == pytest.approx(flops / 0.5e3)
    assert explain_choice(**shapes)["direct_cliff_us"] == 0.0


def test_fitting_the_training_factors_leaves_out_problems_past_the_cliff():
    cliffed = _cliff_profile((0, 196), (0.5,))
    records = []
    for k, ratio in ((5, 3.0), (17, 150.0)):
        pair = [square_problem(BACKEND, "cpu", 2, 32, k, 1, 2, 2, training=t) for t in (False, True)]
        for problem, factor in zip(pair, (1.0, ratio)):
            records.append({"rank": 2, "training": problem.training, "problem": problem,
                            "times": {"direct:native": 100.0 * factor, "fft:whole": 200.0}})
    fitted = fit_rates.fit_training(records, cliffed.costs)
    assert fitted["direct_training"][1] == pytest.approx(3.0)
