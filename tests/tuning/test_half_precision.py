"""`tuning.half_precision`: the probe of the backend's convolution in float16 or bfloat16 against widened
to float32, and how the planner prices a half-precision problem's own-dtype plans by it."""

import dataclasses

import keras
import pytest

from structconv.ops import planner
from structconv.tuning import autotune, half_precision
from structconv.tuning.square_problem import square_problem


def _problem(rank=2, size=32, k=5, dtype="bfloat16"):
    return dataclasses.replace(square_problem(keras.backend.backend(), "cpu", rank, size, k, 2, 4, 4),
                               dtype=dtype)


def test_the_probe_is_measured_once_per_dtype_and_rank():
    autotune.reset_statistics()
    ratio = half_precision.slowdown(_problem())
    assert ratio is not None and ratio > 0
    assert autotune.statistics()["problems"] == 1
    # Another 2-D bfloat16 problem: the same probe, nothing timed again.
    assert half_precision.slowdown(_problem(size=48, k=7)) == ratio
    assert autotune.statistics()["problems"] == 1
    half_precision.slowdown(_problem(rank=1, size=512))
    half_precision.slowdown(_problem(dtype="float16"))
    assert autotune.statistics()["problems"] == 3
    planner.clear_plans()  # forgets the probes with the plans
    half_precision.slowdown(_problem())
    assert autotune.statistics()["problems"] == 4


@pytest.mark.parametrize("slowdown", [1.0, 1000.0])
def test_auto_times_the_own_dtype_unless_the_probe_shows_it_far_slower(slowdown, autotune_mode,
                                                                        monkeypatch):
    autotune_mode("uncertain")
    monkeypatch.setattr(half_precision, "slowdown", lambda problem: slowdown)
    plan = planner.plan_conv(_problem(size=24, k=9), "direct")
    timed = dict(plan.measured_us)
    own = [label for label in timed if label.startswith("direct") and not label.endswith(":float32")]
    widened = [label for label in timed if label.endswith(":float32")]
    assert widened
    assert bool(own) == (slowdown == 1.0)
    if slowdown > 1.0:
        assert plan.working_dtype == "float32"
