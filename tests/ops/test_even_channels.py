"""Direct plans on one zero input channel more (`ops.even_channels`, `Plan.even_channels`): the same
convolution as NumPy's, forward and gradients, on every backend; offered beside each direct plan whose
backend convolution gets an odd count where the backend says that can be slow, priced at its extra flops,
and timed by measured planning as a way of its own."""

import dataclasses

import keras
import pytest
from conftest import assert_every_direct_way_matches_reference, with_backward_cliff

from structconv._backend import get_backend
from structconv.ops import candidate_plans
from structconv.ops.even_channels import padded_channels
from structconv.tuning import profile
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()


def test_odd_counts_over_one_get_one_channel_more_ungrouped_only():
    assert [padded_channels(c) for c in (1, 2, 3, 4, 5, 27)] == [1, 2, 4, 4, 6, 28]
    assert padded_channels(3, groups=3) == 3


def test_only_jaxs_2d_float32_cpu_convolutions_of_odd_counts_are_said_to_be_slow():
    slow = get_backend().odd_channels_slow
    assert slow(2, 3, 1, "float32", "cpu") == (BACKEND == "jax")
    assert not any([slow(1, 3, 1, "float32", "cpu"), slow(3, 3, 1, "float32", "cpu"),
                    slow(2, 4, 1, "float32", "cpu"), slow(2, 1, 1, "float32", "cpu"),
                    slow(2, 3, 3, "float32", "cpu"), slow(2, 3, 1, "float64", "cpu"),
                    slow(2, 3, 1, "float32", "gpu")])


@pytest.mark.parametrize("spatial, kernel, channels, arguments", [
    ((9, 8), (3, 2), 3, {"padding": "same"}),
    ((7, 9), (3, 3), 5, {"padding": "valid", "strides": 2, "data_format": "channels_first"}),
    ((6, 7), (2, 3), 3, {"padding": "same", "dilation_rate": (2, 1), "padding_mode": "reflect"}),
    ((5, 4, 6), (2, 2, 3), 3, {"padding": "same"}),
    ((4, 3, 4, 5), (2, 2, 1, 3), 3, {"padding": "valid"}),
    ((8, 9), (3, 3), 3, {"padding": "same", "groups": 3}),  # the block-diagonal kernel's 3 channels
])
def test_direct_plans_on_even_channels_compute_the_convolution(spatial, kernel, channels, arguments):
    assert_every_direct_way_matches_reference(spatial, kernel, channels, arguments, 5, even_channels=True)


def _with_factors(rows):
    """The shipped profile with `rows` as its odd channel factors (`Strategy.odd_channel_factors`)."""
    shipped = profile.shipped(BACKEND, "cpu")
    return dataclasses.replace(shipped, strategy=dataclasses.replace(shipped.strategy,
                                                                     odd_channel_factors=rows))


def _candidates(monkeypatch, *problem_args, groups=1, transposed=False, training=False, factors=()):
    monkeypatch.setattr(get_backend(), "odd_channels_slow", lambda rank, channels, *rest: channels % 2 == 1)
    problem = dataclasses.replace(square_problem(BACKEND, "cpu", *problem_args), groups=groups,
                                  transposed=transposed, training=training)
    return {p.label: p.modelled_us for p in candidate_plans.candidates(problem, _with_factors(factors))
            if p.algorithm == "direct"}


def test_each_direct_plan_of_an_odd_backend_convolution_gets_an_even_twin(monkeypatch):
    # 4-D, 3 -> 3, k=3, batch 1: whatever the rank it runs on, the decomposition stacked along the filters
    # runs convolutions of 3 input channels, along the inputs of 3 * (peeled taps), an odd count.
    found = _candidates(monkeypatch, 4, 8, 3, 1, 3, 3)
    for label in ("direct:filters", "direct:inputs"):
        assert f"{label}:even" in found
    assert found["direct:filters:even"] == pytest.approx(found["direct:filters"] * 4 / 3)
    assert not _candidates(monkeypatch, 2, 8, 3, 1, 4, 3).keys() & {"direct:native:even"}
    # Grouped: not the backend's grouped convolution; its block-diagonal kernel is one of 3 input channels.
    grouped = _candidates(monkeypatch, 2, 8, 3, 1, 3, 6, groups=3)
    assert [label for label in grouped if label.endswith(":even")] == ["direct:native:dense:even"]
    assert not any(label.endswith(":even") for label in _candidates(monkeypatch, 2, 8, 3, 1, 3, 3,
                                                                      transposed=True))


def test_the_plain_plan_is_priced_at_its_twins_price_times_the_probed_factor(monkeypatch):
    # (channels, filters, forward factor, training factor), as `tuning.odd_channels.probe` gives them.
    rows = ((3, 8, 1.0, 1.0), (3, 16, 0.8, 0.9), (3, 32, 6.0, 1.5), (27, 8, 2.5, 1.2), (27, 64, 1.1, 1.0))
    plain = _candidates(monkeypatch, 2, 16, 3, 1, 3, 24)
    found = _candidates(monkeypatch, 2, 16, 3, 1, 3, 24, factors=rows)
    twin = plain["direct:native"] * 4 / 3  # 3 -> 24 filters: the row of 32 filters, the fewest not below
    assert found["direct:native:even"] == pytest.approx(twin)
    assert found["direct:native"] == pytest.approx(twin * 6.0)
    step = _candidates(monkeypatch, 2, 16, 3, 1, 3, 24, training=True)
    stepped = _candidates(monkeypatch, 2, 16, 3, 1, 3, 24, training=True, factors=rows)
    assert stepped["direct:native"] == pytest.approx(step["direct:native"] * 4 / 3 * 1.5)
    # 3 -> 12: the row of 16 filters, where the padded channels ran slower: priced by their flops.
    few = _candidates(monkeypatch, 2, 16, 3, 1, 3, 12, factors=rows)
    assert few == _candidates(monkeypatch, 2, 16, 3, 1, 3, 12)
    # 27 -> 8: forward over `SLOW_FACTOR`, training at it (noise, where padding is nearly free): only the
    # forward plain plan is priced up.
    assert _candidates(monkeypatch, 2, 16, 3, 1, 27, 8, factors=rows)["direct:native"] == pytest.approx(
        _candidates(monkeypatch, 2, 16, 3, 1, 27, 8)["direct:native"] * 28 / 27 * 2.5)
    assert _candidates(monkeypatch, 2, 16, 3, 1, 27, 8, training=True, factors=rows) == _candidates(
        monkeypatch, 2, 16, 3, 1, 27, 8, training=True)
    # A count over 2x from every probed one (7 between 3 and 27: 2.3x and 3.9x) is priced by its flops.
    wide = _candidates(monkeypatch, 2, 16, 3, 1, 7, 8)
    assert _candidates(monkeypatch, 2, 16, 3, 1, 7, 8, factors=rows)["direct:native"] == pytest.approx(
        wide["direct:native"])


def test_the_twin_scales_the_doubted_part_of_its_price_with_the_rest(monkeypatch):
    # A 1-D training step past a backward cliff: the cliff's price is a doubt measuring may time
    # (`Plan.uncertain_us`); the twin on 4 channels, not 3, computes 4/3 the flops past it too.
    monkeypatch.setattr(get_backend(), "odd_channels_slow", lambda rank, channels, *rest: channels % 2 == 1)
    cliffed = with_backward_cliff(profile.shipped(BACKEND, "cpu"), (8,), (0.5,))
    problem = square_problem(BACKEND, "cpu", 1, 512, 15, 1, 3, 3, training=True)
    plans = {p.label: p for p in candidate_plans.candidates(problem, cliffed) if p.algorithm == "direct"}
    assert plans["direct:native"].uncertain_us > 0
    twin = plans["direct:native:even"]
    assert twin.modelled_us == pytest.approx(plans["direct:native"].modelled_us * 4 / 3)
    assert twin.uncertain_us == pytest.approx(plans["direct:native"].uncertain_us * 4 / 3)


def test_the_factor_is_looked_up_by_the_nearest_channels_and_the_fewest_filters_not_below():
    strategy = _with_factors(((3, 16, 2.0, 1.2), (3, 32, 3.0, 1.3), (15, 16, 1.5, 1.1),
                              (15, 32, 1.7, 1.4))).strategy
    assert strategy.odd_channel_factor(3, 17, training=False) == 3.0
    assert strategy.odd_channel_factor(5, 16, training=True) == 1.2  # 5 is nearer 3 than 15
    assert strategy.odd_channel_factor(9, 8, training=False) == 1.5  # 15/9 < 9/3
    assert strategy.odd_channel_factor(29, 200, training=True) == 1.4  # past the most filters: the most
    assert strategy.odd_channel_factor(45, 16, training=False) is None  # 3x past the nearest count
    assert _with_factors(()).strategy.odd_channel_factor(3, 16, training=False) is None
