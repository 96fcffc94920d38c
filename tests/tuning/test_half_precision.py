"""`tuning.half_precision`: the probe of the backend's convolution in float16 or bfloat16 against widened
to float32, and how the planner prices a half-precision problem's own-dtype plans by it."""


import keras
import numpy as np
import pytest
from conftest import assert_close, tensor
from reference import conv_reference
from tuning.fit_twice import fit_twice

from structconv.ops import planner
from structconv.tuning import autotune, half_precision
from structconv.tuning.square_problem import square_problem


def _problem(rank=2, size=32, k=5, dtype="bfloat16"):
    return square_problem(keras.backend.backend(), "cpu", rank, size, k, 2, 4, 4, dtype=dtype)


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


def test_a_layer_under_a_mixed_bfloat16_policy_is_measured_in_fit_then_nothing_per_step(autotune_mode):
    """Inside `fit` (traced on JAX and TensorFlow) the probe and the candidates are timed outside the
    trace, in bfloat16; later epochs measure nothing, and the plan computes the layer's convolution."""
    autotune_mode("always")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer, x, first, later = fit_twice(20, 2, 3, 7)
        assert first >= 2 and later == 0  # the probe and the layer's problem, then nothing
        kept = list(layer._structconv_plans.values())  # also the shape inference's (torch: on "meta")
        assert any(plan.source in ("measured", "plan file") for _, plan in kept)
        assert all(problem.dtype == "bfloat16" for problem, _ in kept)
        kernel, bias = (np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in layer.weights)
        out = layer(tensor(x, "bfloat16"), training=True)
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
        expected = conv_reference(x, kernel, 1, [(3, 3), (3, 3)], 1) + bias
        # bfloat16 inputs, kernel and output: 8 significant bits.
        assert_close(out, expected, rtol=3e-2)
    finally:
        keras.mixed_precision.set_global_policy("float32")
