"""`ops.grouping`: a grouped convolution built from ungrouped ones (a block-diagonal kernel, or one
convolution per group), against the NumPy reference forward and by float64 finite differences, and how the
planner offers and prices those plans."""

import dataclasses

import keras
import numpy as np
import pytest
from conftest import assert_direct_plan_matches_reference, to_numpy, with_backward_cliff

from structconv.ops import candidate_plans, grouping
from structconv.ops.contenders import family, pick_contenders
from structconv.ops.plan import GROUPINGS, Plan
from structconv.tuning import profile as profiles
from structconv.tuning.square_problem import square_problem

# (input shape, kernel shape, groups, strides, dilation, data format, direct method): depthwise, two
# groups of several channels, channels_first, strides and dilation, and a decomposition of each grouping.
CASES = {
    "depthwise-2d": ((2, 7, 6, 4), (3, 2, 1, 8), 4, 1, 1, "channels_last", "native"),
    "two-groups-1d-channels-first": ((2, 6, 9), (4, 3, 4), 2, 2, 1, "channels_first", "native"),
    "three-groups-2d-dilated": ((1, 8, 7, 6), (2, 3, 2, 6), 3, 1, 2, "channels_last", "native"),
    "depthwise-3d-decomposed": ((1, 5, 4, 6, 2), (2, 3, 2, 1, 4), 2, 1, 1, "channels_last", "inputs"),
}


@pytest.mark.parametrize("way", GROUPINGS)
@pytest.mark.parametrize("case", list(CASES))
def test_each_grouping_is_the_grouped_convolution(case, way):
    """Every way of a grouped convolution equals the NumPy reference, and so do its gradients."""
    x_shape, k_shape, groups, strides, dilation, data_format, direct = CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    # The 3-D case runs the decomposition (onto 2-D), which JAX, TensorFlow and torch all offer.
    assert_direct_plan_matches_reference(direct, x, k, strides, rng, onto=2 if direct == "inputs" else None,
                                         padding="same" if strides == 1 else "valid", dilation=dilation,
                                         data_format=data_format, groups=groups, grouping=way)


def test_block_diagonal_kernel_connects_each_group_to_its_filters_only():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 2, 6))  # 3 taps, 2 channels per group, 6 filters in 3 groups
    dense = to_numpy(grouping.block_diagonal(keras.ops.convert_to_tensor(kernel), 3))
    assert dense.shape == (3, 6, 6)
    for g in range(3):
        for h in range(3):
            block = dense[:, 2 * g:2 * g + 2, 2 * h:2 * h + 2]
            np.testing.assert_array_equal(block, kernel[:, :, 2 * h:2 * h + 2] if g == h else 0.0)


def _problem(groups, channels=8, filters=8, training=False, rank=2):
    problem = square_problem(keras.backend.backend(), "cpu", rank, 24, 3, 2, channels, filters,
                             training=training)
    return dataclasses.replace(problem, groups=groups)


def _profile(factor):
    shipped = candidate_plans.profile_for(keras.backend.backend(), "cpu")
    costs = dataclasses.replace(shipped.costs, direct_grouped_factor=factor)
    return dataclasses.replace(shipped, costs=costs)


def test_a_grouped_problem_offers_every_grouping_priced_as_its_ungrouped_problems():
    profile = _profile((1.0, 1.0))
    problem = _problem(4)
    plans = [p for p in candidate_plans.candidates(problem, profile) if p.algorithm == "direct"]
    by_grouping = {way: [p for p in plans if p.grouping == way] for way in GROUPINGS}
    assert all(by_grouping.values())
    assert len(by_grouping["dense"]) <= grouping.WAYS_PER_GROUPING
    assert len(by_grouping["split"]) <= grouping.WAYS_PER_GROUPING

    def direct_us(ungrouped):
        return {p.label: p.modelled_us for p in candidate_plans.candidates(ungrouped, profile)
                if p.algorithm == "direct"}

    dense, split = direct_us(grouping.dense_problem(problem)), direct_us(grouping.split_problem(problem))
    for plan in by_grouping["dense"]:
        ungrouped = dataclasses.replace(plan, grouping=None).label
        assert plan.modelled_us == pytest.approx(dense[ungrouped] * grouping.UNMODELLED_FACTOR)
    for plan in by_grouping["split"]:
        ungrouped = dataclasses.replace(plan, grouping=None).label
        assert plan.modelled_us == pytest.approx(split[ungrouped] * 4 * grouping.UNMODELLED_FACTOR)
    # Measuring times each grouping: they are different families.
    assert len({family(p) for p in plans}) >= 3
    timed = pick_contenders(sorted(plans, key=lambda p: p.modelled_us), band=100.0)
    assert {p.grouping for p in timed} == set(GROUPINGS)


@pytest.mark.parametrize("training", [False, True])
def test_the_grouped_convolution_is_priced_at_the_profiles_factor(training):
    problem = _problem(8, training=training)

    def grouped_us(factor):
        return {p.label: p.modelled_us for p in candidate_plans.candidates(problem, _profile(factor))
                if p.algorithm == "direct" and p.grouping is None}

    plain, dear = grouped_us((1.0, 1.0)), grouped_us((3.0, 7.0))
    assert plain.keys() == dear.keys() and plain
    for label, us in plain.items():
        assert dear[label] == pytest.approx(us * (7.0 if training else 3.0))


def test_the_grouped_factor_scales_the_doubted_part_of_a_price_with_the_rest():
    # A depthwise 1-D training step past a backward cliff: the cliff's price is a doubt measuring may time
    # (`Plan.uncertain_us`), and the grouped convolution's factor multiplies it as it does the rest.
    problem = dataclasses.replace(square_problem(keras.backend.backend(), "cpu", 1, 512, 15, 1, 8, 8,
                                                 training=True), groups=8)

    def doubted(factor):
        return {p.label: p.uncertain_us for p in candidate_plans.candidates(
            problem, with_backward_cliff(_profile(factor), (8,), (0.5,)))
            if p.algorithm == "direct" and p.grouping is None}

    plain, dear = doubted((1.0, 1.0)), doubted((3.0, 7.0))
    assert plain.keys() == dear.keys() and any(plain.values())
    for label, us in plain.items():
        assert dear[label] == pytest.approx(us * 7.0)


def test_the_backends_own_nd_convolution_beside_a_decomposition_keeps_its_price():
    """XLA's own 4-D convolution (a loop, beside the decomposition on JAX's CPU) ran a grouped one at 1-3x
    the model's time: the profile's grouped factor is for the convolutions the backend runs fast."""
    problem = _problem(8, rank=4)
    prices = [{p.label: p.modelled_us for p in candidate_plans.candidates(problem, _profile(factor))
               if p.algorithm == "direct" and p.grouping is None} for factor in ((1.0, 1.0), (3.0, 3.0))]
    beside = "direct:native" in prices[0] and len(prices[0]) > 1
    assert beside == (keras.backend.backend() == "jax")  # torch and TensorFlow decompose rank 4 only
    for label, us in prices[0].items():
        assert prices[1][label] == pytest.approx(us if beside and label == "direct:native" else 3 * us)


def test_ungrouped_transposed_and_many_groups_offer_what_they_can():
    def groupings(problem):
        return {p.grouping for p in candidate_plans.candidates(problem) if p.algorithm == "direct"}

    assert groupings(_problem(1)) == {None}
    assert groupings(_problem(8)) == {None, "dense"}  # depthwise: not split into one-channel convolutions
    assert groupings(dataclasses.replace(_problem(1), transposed=True, padding=((0, 0),) * 2)) == {None}
    many = grouping.SPLIT_MAX_GROUPS * 2
    assert groupings(_problem(many, channels=many, filters=many)) == {None, "dense"}
    most = grouping.DENSE_MAX_GROUPS * 2
    assert groupings(_problem(most, channels=most, filters=most, rank=1)) == {None}


def test_the_shipped_jax_cpu_profile_prices_xlas_grouped_convolution_dear():
    """XLA's CPU convolution runs grouped ones far below its rate (`ops.grouping`): by the model alone
    a JAX depthwise convolution runs from a block-diagonal kernel; torch's and TensorFlow's shipped
    profiles keep their own grouped convolution."""
    shipped = profiles.shipped("jax", "cpu")
    assert shipped.costs.direct_grouped_factor[0] > 1 and shipped.costs.direct_grouped_factor[1] > 1
    if keras.backend.backend() == "jax":
        plans = candidate_plans.candidates(_problem(8), shipped)
        assert min((p for p in plans if p.algorithm == "direct"), key=lambda p: p.modelled_us).grouping
    for other in ("torch", "tensorflow"):
        assert profiles.shipped(other, "cpu").costs.direct_grouped_factor == (1.0, 1.0)


def test_a_grouping_is_in_the_label():
    assert Plan("direct", direct="inputs", onto=2, grouping="split").label == "direct:inputs:2d:split"
    assert Plan("direct", grouping="dense", working_dtype="float32").label == "direct:native:dense:float32"


def test_a_4d_depthwise_training_step_by_a_block_diagonal_kernel_runs():
    """Built as the product of the kernel and an identity matrix, the block-diagonal kernel made XLA's CPU
    compiler crash the process (a segmentation fault) on this step's gradient, decomposed onto 2-D (jax
    0.10.2); built by concatenation, it runs, and equals the backend's grouped convolution."""
    from conftest import autodiff_gradients, conv_problem_of, tensor

    from structconv.ops.execute import execute

    rng = np.random.default_rng(5)
    x, k = rng.standard_normal((1, 8, 6, 5, 9, 6)), rng.standard_normal((4, 2, 3, 5, 1, 12))
    problem, _ = conv_problem_of(tensor(x), tensor(k), training=True, padding="same", groups=6)
    problem = dataclasses.replace(problem, dtype="float32")

    def gradients(way):
        plan = Plan("direct", direct="inputs", grouping=way)
        return autodiff_gradients(lambda a, b: keras.ops.sum(execute(plan, problem, a, b) ** 2), x, k,
                                  dtype="float32")

    for got, want in zip(gradients("dense"), gradients(None)):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
