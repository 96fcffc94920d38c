"""The planner offers the backend's own convolution of a batch of one as two halves stacked along the batch
(`ops.halves`) where the backend says one item runs slower than two (torch's 3-D convolution, which its rule
of thumb keeps off oneDNN for a small single item: 3-10x slower), picks it by the model alone past its
overhead, and times it beside the convolution as it is when measuring."""

import dataclasses

import keras
import pytest

from structconv.ops import candidate_plans, planner
from structconv.ops.algorithm import explain_choice
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()


def _slow_path_expected():
    """Where the planner should offer the halves: torch with oneDNN (its CPU wheels have it)."""
    if BACKEND != "torch":
        return False
    import torch

    return torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled


def _volume(**changes):
    """A 3-D convolution of one 24^3 item, 8 -> 8 channels, k=3 (`8 * 24 * 24 = 4608` under torch's 20480)."""
    return dataclasses.replace(square_problem(BACKEND, "cpu", 3, 24, 3, 1, 8, 8), **changes)


def _offered(problem):
    return "direct:halves" in {p.label for p in candidate_plans.candidates(problem)}


def test_the_halves_are_offered_where_one_item_takes_the_slow_path_and_only_there():
    assert _offered(_volume()) == _slow_path_expected()
    assert _offered(_volume(training=True)) == _slow_path_expected()
    assert _offered(_volume(kernel_size=(5, 5, 3))) == _slow_path_expected()  # 3 taps on a last axis
    # A transposed one (torch's rule reads its input): a U-Net decoder's 2x2x2 upsampling at batch 1.
    transposed = _volume(transposed=True, kernel_size=(2, 2, 2), strides=(2, 2, 2), padding=((0, 0),) * 3)
    assert _offered(transposed) == _slow_path_expected()
    for problem in (
        _volume(batch=2),
        _volume(batch=None),  # unknown when traced
        _volume(dtype="float64"),  # no oneDNN kernel either way
        _volume(kernel_size=(3, 5, 5)),  # more than 3 taps on both last axes: oneDNN already
        _volume(channels=40),  # 40 * 24 * 24 > 20480: oneDNN already
        _volume(groups=2),  # grouped: oneDNN already
        _volume(device="gpu"),
        _volume(spatial=(3, 24, 24), padding=((0, 0),) * 3),  # one output along the split axis
        square_problem(BACKEND, "cpu", 2, 24, 3, 1, 8, 8),
    ):
        assert not _offered(problem), problem


@pytest.mark.skipif(not _slow_path_expected(), reason="offered on torch's CPU only")
def test_the_model_alone_takes_the_halves_past_their_overhead(autotune_mode):
    """The loops priced at `single_item_loops` times the model's time, the halves at `halves` times it plus
    one call's overhead: a 48^3 8 -> 8 volume runs as halves (the loops took 4-5x as long), a one-channel
    8^3 one as it is (there the halves took 4x as long; docs/benchmarks.md)."""
    autotune_mode("off")
    problem = _volume()
    plans = {p.label: p for p in candidate_plans.candidates(problem)}
    profile = candidate_plans.profile_for(BACKEND)
    base = plans["direct:native"].modelled_us / candidate_plans.UNMODELLED_FACTOR["single_item_loops"]
    assert plans["direct:halves"].modelled_us == pytest.approx(
        base * candidate_plans.UNMODELLED_FACTOR["halves"] + profile.costs.direct_overhead_us)
    large = _volume(spatial=(48,) * 3)
    tiny = square_problem(BACKEND, "cpu", 3, 8, 3, 1, 1, 1)
    assert planner.plan_conv(large).label == "direct:halves"
    assert planner.plan_conv(tiny).label == "direct:native"


@pytest.mark.skipif(not _slow_path_expected(), reason="offered on torch's CPU only")
def test_measuring_times_both_and_keeps_the_halves_when_faster(autotune_mode, stand_in_times):
    autotune_mode("uncertain")
    shape, kernel = (1, 24, 24, 24, 8), (3, 3, 3, 8, 8)
    # As measured (no stand-in): both direct ways are timed, whichever wins.
    info = explain_choice(shape, kernel, padding="same")
    assert {"direct:native", "direct:halves"} <= set(info["measured_us"]), info["measured_us"]
    assert info["source"] == "measured"
    # Where the halves time fastest, they are the plan.
    stand_in_times("direct:halves")
    info = explain_choice(shape, kernel, padding="same", training=True)
    assert info["plan"] == "direct:halves" and info["source"] == "measured"
