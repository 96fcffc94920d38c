"""The planner offers torch's own CPU convolution bypassing oneDNN (`direct:im2col`) beside its convolution
for ungrouped float32 1-D problems and channels_first 2-D ones with few input or output channels, never
picks it by the model alone (priced at `UNMODELLED_FACTOR["im2col"]` of the convolution), and times it
when measuring."""

import dataclasses

import keras
import pytest

from structconv.ops import candidate_plans, planner
from structconv.ops.algorithm import explain_choice
from structconv.tuning import calibrate
from structconv.tuning.square_problem import square_problem

BACKEND = keras.backend.backend()
ON_TORCH = BACKEND == "torch"


def _signal(**changes):
    """A 1-D convolution of 2367 samples, k=79, 2 -> 2 channels, batch 2."""
    return dataclasses.replace(square_problem(BACKEND, "cpu", 1, 2367, 79, 2, 2, 2), **changes)


def _offered(problem):
    return "direct:im2col" in {p.label for p in candidate_plans.candidates(problem)}


def test_im2col_is_offered_on_torchs_cpu_for_few_channels_and_only_there():
    # A grayscale image's first layer, channels_first.
    image = dataclasses.replace(square_problem(BACKEND, "cpu", 2, 64, 3, 8, 1, 16),
                                data_format="channels_first")
    few_filters = _signal(channels=16, filters=4, kernel_size=(15,), padding=((7, 7),))
    for problem in (_signal(), _signal(training=True), image, few_filters,
                    _signal(strides=(2,), dilation_rate=(3,)), _signal(data_format="channels_first")):
        assert _offered(problem) == ON_TORCH, problem
    for problem in (
        _signal(channels=8, filters=8),  # oneDNN's own kernels win with more channels
        _signal(dtype="float64"),  # no oneDNN kernel: the convolution takes this path already
        _signal(dtype="bfloat16"),
        _signal(groups=2),
        _signal(transposed=True, padding=((0, 0),)),
        _signal(device="gpu"),
        square_problem(BACKEND, "cpu", 3, 16, 3, 2, 2, 2),  # ranks 1 and 2 only
        dataclasses.replace(image, data_format="channels_last"),  # oneDNN runs channels-last memory faster
        _signal(batch=None, spatial=(None,)),  # sizes unknown when traced: the convolution, unpriced
        _signal(spatial=(40403,), kernel_size=(245,), padding=((122, 122),), channels=3, filters=8),  # 59M
        _signal(batch=64),  # ATen's im2col matrix of the whole batch: 24M entries, 96 MB
    ):
        assert not _offered(problem), problem


@pytest.mark.skipif(not ON_TORCH, reason="offered on torch only")
def test_the_model_alone_never_picks_it(autotune_mode):
    autotune_mode("off")
    for problem in (_signal(), _signal(training=True), _signal(rank=2, spatial=(64, 64), kernel_size=(3, 3),
                                                                 padding=((1, 1), (1, 1)), strides=(1, 1),
                                                                 dilation_rate=(1, 1),
                                                                 data_format="channels_first")):
        plans = {p.label: p for p in candidate_plans.candidates(problem)}
        assert plans["direct:im2col"].modelled_us == pytest.approx(
            plans["direct:native"].modelled_us * candidate_plans.UNMODELLED_FACTOR["im2col"])
        assert planner.plan_conv(problem).label != "direct:im2col"


@pytest.mark.skipif(not ON_TORCH, reason="offered on torch only")
def test_measuring_times_it_and_keeps_it_when_faster(autotune_mode, stand_in_times):
    autotune_mode("uncertain")
    shape, kernel = (2, 2367, 2), (79, 2, 2)
    info = explain_choice(shape, kernel, padding="same")  # as measured (no stand-in)
    assert {"direct:native", "direct:im2col"} <= set(info["measured_us"]), info["measured_us"]
    stand_in_times("direct:im2col")
    info = explain_choice(shape, kernel, padding="same", training=True)
    assert info["plan"] == "direct:im2col" and info["source"] == "measured"


def test_calibration_does_not_time_it():
    """Its times would be fitted as torch's convolution's, whose rates the model prices it by."""
    profile = candidate_plans.profile_for(BACKEND)
    for problem in (_signal(), _signal(channels=1, filters=1, spatial=(65536,), kernel_size=(129,),
                                       padding=((64, 64),), batch=1)):
        labels = {p.label for p in calibrate.every_plan(problem, profile)}
        assert "direct:native" in labels and "direct:im2col" not in labels
        assert {p.label for p in calibrate.timed_plans(problem, profile)} <= labels
