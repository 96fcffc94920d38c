"""`ops.working_precision`: the direct plans of a float16 or bfloat16 convolution, in its own dtype and
computed in float32, against the NumPy reference (forward and gradient), and how the planner prices and
times them."""

import keras
import numpy as np
import pytest
import reference
from conftest import autodiff_gradients, conv_with_plan, dtype_name, tensor, to_numpy, with_backward_cliff

from structconv._backend import get_backend
from structconv.ops import candidate_plans, working_precision
from structconv.ops.contenders import family
from structconv.tuning import autotune
from structconv.tuning.square_problem import square_problem

HALF = ["float16", "bfloat16"]


def _integers(rng, shape):
    """Small integers: every product and sum of the convolutions below is exact in float16 and bfloat16
    (magnitudes under 256: bfloat16 holds every integer up to 256), so each way must give the reference
    exactly."""
    return rng.integers(-2, 3, shape).astype(np.float64)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("working_dtype", [None, "float32"])
@pytest.mark.parametrize("transposed", [False, True])
def test_each_direct_way_of_a_half_precision_convolution_is_the_reference(dtype, working_dtype, transposed):
    rng = np.random.default_rng(3)
    x = _integers(rng, (1, 5, 4, 3))
    k = _integers(rng, (3, 2, 2, 3) if transposed else (3, 2, 3, 2))
    if transposed:
        expected = reference.conv_transpose_reference(x, k, 2, "same", None, 1, "channels_last")
    else:
        pairs = reference.padding_pairs("same", (5, 4), (3, 2), (1, 1), (1, 1))
        expected = reference.conv_reference(x, k, (1, 1), pairs, (1, 1))

    def run(a, b):
        return conv_with_plan(a, b, transposed=transposed, algorithm="direct", working_dtype=working_dtype,
                              padding="same", strides=2 if transposed else 1)

    y = run(tensor(x, dtype), tensor(k, dtype))
    assert dtype_name(y) == dtype
    np.testing.assert_array_equal(to_numpy(y).astype(np.float64), expected)

    # The gradient of sum(y * w), w small integers: every entry an exact integer sum as well.
    w = tensor(_integers(rng, expected.shape), dtype)
    grads = autodiff_gradients(lambda a, b: keras.ops.sum(run(a, b) * w), x, k, dtype=dtype)
    float64 = autodiff_gradients(
        lambda a, b: keras.ops.sum(conv_with_plan(a, b, transposed=transposed, algorithm="direct",
                                                  padding="same", strides=2 if transposed else 1)
                                   * keras.ops.cast(w, "float64")), x, k, dtype="float64")
    for got, want in zip(grads, float64):
        np.testing.assert_array_equal(got, want)


def _problem(dtype, device="cpu", training=False):
    return square_problem(keras.backend.backend(), device, 2, 32, 5, 2, 4, 4, training=training, dtype=dtype)


@pytest.mark.parametrize("training", [False, True])
def test_half_precision_doubles_each_direct_way_the_device_favouring_one(training):
    """Each direct way of a float16 problem comes in its own dtype and in float32, priced apart (a family
    each, so that measuring times both); on a CPU the float32 one the cheaper (torch's CPU convolution in
    bfloat16 ran 8-45x longer than in float32 without half-precision instructions), on a GPU its own."""
    single = [p for p in candidate_plans.candidates(_problem("float32", training=training))
              if p.algorithm == "direct"]
    assert single and all(p.working_dtype is None for p in single)
    for device, favoured in (("cpu", "float32"), ("gpu", None)):
        plans = [p for p in candidate_plans.candidates(_problem("float16", device, training))
                 if p.algorithm == "direct"]
        by_way = {}
        for plan in plans:
            by_way.setdefault((plan.direct, plan.onto), {})[plan.working_dtype] = plan
        assert by_way and all(set(pair) == {None, "float32"} for pair in by_way.values())
        for pair in by_way.values():
            other = None if favoured == "float32" else "float32"
            assert pair[favoured].modelled_us < pair[other].modelled_us
            assert family(pair[None]) != family(pair["float32"])
            assert pair["float32"].label == pair[None].label + ":float32"


def test_a_measured_slowdown_prices_the_own_dtype():
    """Where "auto" measures, the own dtype is priced at the ratio measured on the machine
    (`tuning.half_precision`), the widened way at the model's time plus its casts."""
    problem = _problem("bfloat16")
    costs = candidate_plans.profile_for(problem.backend, problem.device).costs
    plain = {p.label: p for p in candidate_plans.candidates(problem) if p.algorithm == "direct"}
    for slowdown in (0.5, 40.0):
        priced = {p.label: p for p in candidate_plans.candidates(problem, own_slowdown=slowdown)
                  if p.algorithm == "direct"}
        for label, plan in priced.items():
            if plan.working_dtype is None:
                base = plain[label + ":float32"].modelled_us - working_precision.cast_us(problem, costs)
                assert plan.modelled_us == pytest.approx(base * slowdown)
            else:
                assert plan.modelled_us == pytest.approx(plain[label].modelled_us)


def test_the_float32_backward_cliff_is_doubted_in_a_half_precision_dtype_only():
    """The backward cliff is probed in float32; a half-precision problem's own dtype may run kernels without
    it (TensorFlow's oneDNN on an AMX Xeon trained a 2-D 128^2 k=27 16 -> 16 step in 6.9 ms in bfloat16,
    7.4 s in float32 and float16; "auto", never timing it, ran FFT at 2.3x). So in the own dtype the cliff
    is a doubt (`Plan.uncertain_us`: timed where the plan would be in the band without it), while the
    plans computed in float32, and a float32 problem's, keep it as the model's price."""
    cliffed = with_backward_cliff(candidate_plans.profile_for(keras.backend.backend()), (0, 14 * 14),
                                  (1.0, 0.5))

    def cliff_and_plans(dtype):
        problem = square_problem(keras.backend.backend(), "cpu", 2, 64, 15, 1, 16, 16, training=True,
                                 dtype=dtype)
        plans = [p for p in candidate_plans.candidates(problem, cliffed)
                 if p.algorithm == "direct" and p.direct != "channels_first"]  # torch's copy has no cliff
        return candidate_plans.backward_cliff_us(problem, cliffed.costs), plans

    cliff, plans = cliff_and_plans("float32")
    assert cliff > 0 and plans and all(p.uncertain_us == 0.0 for p in plans)
    for dtype in HALF:
        cliff, plans = cliff_and_plans(dtype)
        own = [p for p in plans if p.working_dtype is None]
        widened = [p for p in plans if p.working_dtype == "float32"]
        assert own and widened
        for plan in own:  # priced at the model's own-dtype factor, the cliff part with it
            assert plan.uncertain_us == pytest.approx(cliff * working_precision.UNMODELLED_FACTOR)
            assert plan.modelled_us - plan.uncertain_us > 0
        assert all(p.uncertain_us == 0.0 for p in widened)
    # Below the cliff there is nothing to doubt.
    below = square_problem(keras.backend.backend(), "cpu", 2, 64, 13, 1, 16, 16, training=True,
                           dtype="bfloat16")
    assert all(p.uncertain_us == 0.0 for p in candidate_plans.candidates(below, cliffed))


def test_a_half_precision_problem_is_timed_in_its_own_dtype():
    """Measured planning times a bfloat16 problem on bfloat16 tensors (NumPy has no bfloat16: the arrays
    are cast by `compile_for_timing`); it had timed them in float32, where torch's convolution on a CPU
    without half-precision instructions is 8-45x faster than in bfloat16."""
    seen = []

    def function(x, k):
        seen.append((dtype_name(x), dtype_name(k)))
        return x

    arrays = autotune.problem_arrays(_problem("bfloat16"))
    assert all(a.dtype == np.float32 for a in arrays)
    run = get_backend().compile_for_timing(function, arrays, False, "cpu", dtype="bfloat16")
    run()
    assert seen and set(seen) == {("bfloat16", "bfloat16")}
