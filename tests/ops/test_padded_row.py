"""Direct plans with one output row more on zero padding, cropped (`ops.padded_row`, `Plan.padded_row`): the
same convolution as NumPy's, forward and gradients, on every backend; offered beside each direct plan whose
backend convolution has no padding where the backend says that may be slow, priced at its extra row, and
timed by measured planning as a way of its own."""

import dataclasses

import keras
import pytest
from conftest import assert_every_direct_way_matches_reference

from structconv._backend import get_backend
from structconv.ops import candidate_plans
from structconv.tuning import profile
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()


def test_only_jaxs_2d_float32_cpu_convolutions_of_over_16_channels_are_said_to_be_slow_unpadded():
    slow = get_backend().unpadded_slow
    assert slow(2, 17, 1, "float32", "cpu") == (BACKEND == "jax")
    assert not any([slow(1, 32, 1, "float32", "cpu"), slow(3, 32, 1, "float32", "cpu"),
                    slow(2, 16, 1, "float32", "cpu"), slow(2, 32, 2, "float32", "cpu"),
                    slow(2, 32, 1, "float64", "cpu"), slow(2, 32, 1, "float32", "gpu")])


@pytest.mark.parametrize("spatial, kernel, channels, arguments", [
    ((9, 8), (3, 2), 2, {"padding": "valid"}),
    ((7, 9), (3, 3), 2, {"padding": "valid", "strides": (2, 3), "data_format": "channels_first"}),
    ((8, 9), (2, 3), 2, {"padding": "valid", "strides": 2, "dilation_rate": 1}),
    ((6, 7), (2, 3), 2, {"padding": "same", "dilation_rate": (2, 1), "padding_mode": "reflect"}),
    ((9, 7), (3, 1), 2, {"padding": "same"}),  # padded on the first axis only: run as it is
    ((5, 4, 6), (2, 2, 3), 3, {"padding": "valid"}),
    ((4, 3, 4, 5), (2, 2, 1, 3), 3, {"padding": "valid", "strides": (1, 2, 1, 2)}),
    ((8, 9), (3, 3), 6, {"padding": "valid", "groups": 3}),  # the block-diagonal kernel's convolution
])
def test_direct_plans_with_a_padded_row_compute_the_convolution(spatial, kernel, channels, arguments):
    # Strides: a stride's worth of rows, so that the others keep their positions.
    assert_every_direct_way_matches_reference(spatial, kernel, channels, arguments, 6, padded_row=True)


def _candidates(monkeypatch, *problem_args, groups=1, transposed=False, padding="valid"):
    monkeypatch.setattr(get_backend(), "unpadded_slow", lambda rank, channels, *rest: channels > 4)
    problem = dataclasses.replace(square_problem(BACKEND, "cpu", *problem_args, padding), groups=groups,
                                  transposed=transposed)
    unprobed = profile.with_probed(profile.shipped(BACKEND, "cpu"), {"unpadded_gflops_per_filter": 0.0})
    return {p.label: p.modelled_us for p in candidate_plans.candidates(problem, unprobed)
            if p.algorithm == "direct"}


def test_each_direct_plan_of_an_unpadded_backend_convolution_gets_a_padded_twin(monkeypatch):
    # 4-D 8^4, 2 -> 3, k=3, batch 1, valid: the decomposition stacked along the inputs runs convolutions of
    # 2 * (peeled taps) input channels, more than 4; the one stacked along the filters, of 2: no twin.
    found = _candidates(monkeypatch, 4, 8, 3, 1, 2, 3)
    assert "direct:inputs:row" in found and "direct:filters:row" not in found
    # Priced at one output row more: 7 rows of 6 outputs.
    assert found["direct:inputs:row"] == pytest.approx(found["direct:inputs"] * 7 / 6)
    assert not any(label.endswith(":row") for label in _candidates(monkeypatch, 2, 8, 3, 1, 4, 3))
    # Padded ("same"): none; a padding mode but zeros pads the input first, the convolution unpadded.
    assert not any(label.endswith(":row") for label in _candidates(monkeypatch, 2, 8, 3, 1, 6, 3,
                                                                    padding="same"))
    # Grouped: not the backend's grouped convolution; its block-diagonal kernel's, of 6 input channels.
    grouped = _candidates(monkeypatch, 2, 8, 3, 1, 6, 6, groups=3)
    assert [label for label in grouped if label.endswith(":row")] == ["direct:native:dense:row"]
    assert not any(label.endswith(":row") for label in _candidates(monkeypatch, 2, 8, 3, 1, 6, 3,
                                                                    transposed=True))


def test_a_padding_mode_but_zeros_leaves_the_convolution_unpadded(monkeypatch):
    monkeypatch.setattr(get_backend(), "unpadded_slow", lambda rank, channels, *rest: channels > 4)
    problem = dataclasses.replace(square_problem(BACKEND, "cpu", 2, 8, 3, 1, 6, 3, "same"),
                                  padding_mode="reflect")
    assert "direct:native:row" in {p.label for p in candidate_plans.candidates(problem)}


def test_the_padded_twin_of_an_odd_count_is_not_padded_to_even_channels_too(monkeypatch):
    monkeypatch.setattr(get_backend(), "odd_channels_slow", lambda rank, channels, *rest: channels % 2 == 1)
    found = _candidates(monkeypatch, 2, 8, 3, 1, 7, 3)
    assert {"direct:native", "direct:native:even", "direct:native:row"} <= found.keys()
    assert not any(":even:row" in label or ":row:even" in label for label in found)


def _priced(monkeypatch, rate, training=False, size=16, kernel=5, channels=32, filters=2, padding="valid"):
    """The direct plans' prices of a 2-D problem under the shipped profile with `rate` as its probed rate
    of unpadded convolutions (`Strategy.unpadded_gflops_per_filter`)."""
    monkeypatch.setattr(get_backend(), "unpadded_slow", lambda rank, channels, *rest: channels > 16)
    shipped = profile.shipped(BACKEND, "cpu")
    probed = profile.with_probed(shipped, {"unpadded_gflops_per_filter": rate})
    problem = square_problem(BACKEND, "cpu", 2, size, kernel, 4, channels, filters, padding,
                             training=training)
    return problem, {p.label: p.modelled_us for p in candidate_plans.candidates(problem, probed)
                     if p.algorithm == "direct"}


def test_the_plain_forward_plan_is_priced_at_least_at_the_probed_rate_per_filter(monkeypatch):
    problem, unpriced = _priced(monkeypatch, 0.0)
    _, priced = _priced(monkeypatch, 0.1)
    flops = 2.0 * 4 * 12 * 12 * 25 * 32 * 2  # 4 x 12^2 outputs, 5x5 taps, 32 -> 2
    assert priced["direct:native"] == pytest.approx(max(unpriced["direct:native"], flops / (0.1 * 2 * 1e3)))
    assert priced["direct:native"] > 10 * unpriced["direct:native"]
    assert priced["direct:native:row"] == unpriced["direct:native:row"]  # padded: its usual rate
    # Training steps (their 2-D convolutions were not slowed alike) and padded problems: as before.
    assert _priced(monkeypatch, 0.1, training=True)[1] == _priced(monkeypatch, 0.0, training=True)[1]
    assert _priced(monkeypatch, 0.1, padding="same")[1] == _priced(monkeypatch, 0.0, padding="same")[1]
