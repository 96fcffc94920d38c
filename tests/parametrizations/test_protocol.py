"""The parametrization protocol against NumPy: forward, right inverse, projection, `in_manifold`, `pinned`,
`free_shape` and the registry `get`."""

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import (
    CASE_NAMES,
    KERNEL_SHAPE,
    MASK_FULL,
    MASK_IN_OUT,
    assert_close,
    build,
    cases,
    check_invariant,
    f32,
    f64,
    random_free,
    reference_forward,
    reference_project,
    to_numpy,
)

from structconv import layers
from structconv import parametrizations as P


def _seed(name):
    return np.random.default_rng(sum(map(ord, name)))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_forward_matches_numpy_definition_in_float64(name):
    rng = _seed(name)
    p = build(name)
    free = random_free(name, rng)
    kernel = p.forward(f64(free))
    assert str(to_numpy(kernel).dtype) == "float64"
    assert_close(kernel, reference_forward(name, free), rtol=1e-12, what=name)
    assert check_invariant(name, to_numpy(kernel), free, ulps=1e-6) == []


@pytest.mark.parametrize("name", CASE_NAMES)
def test_forward_matches_numpy_definition_in_float32(name):
    rng = _seed(name)
    p = build(name)
    free = random_free(name, rng).astype("float32")
    kernel = p.forward(f32(free))
    assert str(to_numpy(kernel).dtype) == "float32"
    assert_close(kernel, reference_forward(name, free), rtol=1e-5, what=name)
    assert check_invariant(name, to_numpy(kernel), free) == []


@pytest.mark.parametrize("name", CASE_NAMES)
def test_right_inverse_round_trip_and_projection(name):
    """In float32, the precision layers train in (float64 exactness is `test_forward_matches_numpy_...`)."""
    rng = _seed(name)
    p = build(name)
    dense = rng.standard_normal(KERNEL_SHAPE).astype("float32")

    projected = to_numpy(p.project(f32(dense)))
    assert projected.dtype == np.float32
    # project is the closed-form Euclidean projection, and lands on the constraint set
    assert_close(projected, reference_project(name, dense), what=name)
    assert check_invariant(name, projected) == []
    # idempotent
    assert_close(p.project(f32(projected)), projected, what=name)
    # forward(right_inverse(k)) == k for a kernel that satisfies the constraint
    free = p.right_inverse(f32(projected))
    assert tuple(to_numpy(free).shape) == tuple(p.free_shape)
    assert_close(p.forward(free), projected, what=name)
    # in_manifold agrees: the projection satisfies it, the random kernel does not
    assert p.in_manifold(projected, atol=1e-5)
    assert not p.in_manifold(dense, atol=1e-5)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_projection_is_the_nearest_point(name):
    """No other point of the constraint set is closer than `project(k)`."""
    rng = _seed(name)
    p = build(name)
    dense = rng.standard_normal(KERNEL_SHAPE).astype("float32")
    projected = np.float64(to_numpy(p.project(f32(dense))))
    distance = np.linalg.norm(dense - projected)
    others = [to_numpy(p.forward(f32(random_free(name, rng)))) for _ in range(20)]
    # and points of the set near the projection (small moves, mapped back onto the set)
    moved = [projected + 0.05 * rng.standard_normal(KERNEL_SHAPE) for _ in range(20)]
    others += [to_numpy(p.project(f32(m))) for m in moved]
    for other in others:
        assert check_invariant(name, other) == []
        assert np.linalg.norm(dense - np.float64(other)) >= distance - 1e-5


def test_zero_sum_and_fixed_sum_projection_subtract_the_mean():
    rng = np.random.default_rng(1)
    k = rng.standard_normal((5, 3, 2, 4))
    assert_close(P.ZeroSum().build(k.shape).project(f64(k)), k - k.mean(axis=(0, 1), keepdims=True), 1e-12)
    total = 2.5
    expected = k - k.mean(axis=(0, 1, 2), keepdims=True) + total / (5 * 3 * 2)
    assert_close(P.FixedSum(total, axis=(0, 1, 2)).build(k.shape).project(f64(k)), expected, 1e-12)
    # a single axis, given as a negative int
    assert_close(P.ZeroSum(axis=-4).build(k.shape).project(f64(k)), k - k.mean(axis=0, keepdims=True), 1e-12)


def test_unit_norm_projection_normalizes():
    rng = np.random.default_rng(2)
    k = rng.standard_normal((3, 3, 2, 4))
    by_filter = k / np.linalg.norm(k.reshape(-1, 4), axis=0)
    assert_close(P.UnitNorm().build(k.shape).project(f64(k)), by_filter, 1e-12)
    joint = k / np.sqrt(k[..., 0:1] ** 2 + k[..., 1:2] ** 2 + k[..., 2:3] ** 2 + k[..., 3:4] ** 2)
    assert_close(P.UnitNorm(axis=-1).build(k.shape).project(f64(k)), joint, 1e-12)
    spatial = k / np.sqrt((k**2).sum(axis=(0, 1), keepdims=True))
    assert_close(P.UnitNorm(axis=(0, 1)).build(k.shape).project(f64(k)), spatial, 1e-12)


def test_unit_norm_of_zero_is_zero_not_nan():
    p = P.UnitNorm().build(KERNEL_SHAPE)
    kernel = to_numpy(p.forward(f32(np.zeros(KERNEL_SHAPE))))
    np.testing.assert_array_equal(kernel, np.zeros(KERNEL_SHAPE))


def test_fixed_taps_pins_spatial_positions_and_single_entries():
    shape = (3, 5, 2, 3)
    p = P.FixedTaps([((0, 4), 0.5), ((2, 2, 1, 0), -2.0), ((-1, 0), 1.25)]).build(shape)
    free = np.random.default_rng(3).standard_normal(shape)
    expected = free.copy()
    expected[0, 4] = 0.5  # every input channel and filter
    expected[2, 2, 1, 0] = -2.0  # one entry
    expected[2, 0] = 1.25  # negative index
    assert_close(p.forward(f64(free)), expected, 1e-12)
    pinned = np.zeros(shape, bool)
    pinned[0, 4] = pinned[2, 2, 1, 0] = pinned[2, 0] = True
    np.testing.assert_array_equal(p.pinned, pinned)


def test_fixed_taps_value_is_exact_in_float64():
    """A pinned value is the given number at the kernel's precision, not its float32 rounding."""
    p = P.FixedTaps({"center": 0.1}).build((3, 3, 1, 1))
    kernel = to_numpy(p.forward(f64(np.zeros((3, 3, 1, 1)))))
    assert kernel.dtype == np.float64
    assert kernel[1, 1, 0, 0] == 0.1


def test_pinned_entries():
    shape = KERNEL_SHAPE
    assert P.ZeroSum().build(shape).pinned is None
    assert P.UnitNorm().build(shape).pinned is None
    np.testing.assert_array_equal(
        P.Mask(MASK_IN_OUT).build(shape).pinned, ~np.broadcast_to(MASK_IN_OUT == 1, shape)
    )
    centre = np.zeros(shape, bool)
    centre[1, 1] = True
    np.testing.assert_array_equal(build("bayar").pinned, centre)
    both = P.Compose([P.Mask(MASK_FULL), P.FixedTaps({"center": 0.0})]).build(shape)
    np.testing.assert_array_equal(both.pinned, (MASK_FULL == 0) | centre)


def test_free_shapes():
    for name in CASE_NAMES:
        expected = (int(MASK_IN_OUT.sum()) * 9,) if name == "mask_in_out" else KERNEL_SHAPE
        if name == "mask_full":
            expected = (int(MASK_FULL.sum()),)
        assert tuple(build(name).free_shape) == expected, name


def test_mask_first_then_zero_sum_with_whole_kernels_masked():
    """The Compose docstring: "Put `Mask` first: only then are its zeros left out of the free variable".
    With whole (in, out) kernels masked, those kernels are 0 and sum to 0 already, so the composition is
    satisfiable and must build, with only the free entries as parameters."""
    connected = np.ones((3, 16), "int8")
    connected[0, :5] = 0
    p = P.Compose([P.Mask(connected), P.ZeroSum()]).build((3, 3, 3, 16))
    assert tuple(p.free_shape) == (387,)
    kernel = to_numpy(p.forward(f64(np.random.default_rng(4).standard_normal(387))))
    np.testing.assert_array_equal(kernel[:, :, 0, :5], 0.0)
    np.testing.assert_allclose(kernel.sum(axis=(0, 1)), 0.0, atol=1e-12)


def test_compose_passes_pinned_entries_to_the_sum():
    """`[Mask(full), FixedSum(1)]`: the sum is met by the unmasked taps only, masked taps stay 0."""
    p = P.Compose([P.Mask(MASK_FULL), P.FixedSum(1.0)]).build(KERNEL_SHAPE)
    free = np.random.default_rng(5).standard_normal(p.free_shape)
    kernel = to_numpy(p.forward(f64(free)))
    np.testing.assert_array_equal(kernel[MASK_FULL == 0], 0.0)
    np.testing.assert_allclose(kernel.sum(axis=(0, 1)), 1.0, atol=1e-12)
    # the correction is shared equally by the unmasked taps of each slice
    placed = np.zeros(KERNEL_SHAPE)
    placed[MASK_FULL == 1] = free
    counts = MASK_FULL.sum(axis=(0, 1), keepdims=True)
    expected = np.where(MASK_FULL == 1, placed + (1.0 - placed.sum(axis=(0, 1), keepdims=True)) / counts, 0.0)
    assert_close(kernel, expected, 1e-12)


def test_get_identifiers():
    assert P.get(None) is None
    assert isinstance(P.get("zero_sum"), P.ZeroSum)
    assert isinstance(P.get("unit_norm"), P.UnitNorm)
    original = P.ZeroSum(axis=(0, 1))
    copy = P.get(original)
    assert isinstance(copy, P.ZeroSum) and copy is not original and copy.get_config() == original.get_config()
    composed = P.get(["non_neg", P.Symmetric(1)])
    assert isinstance(composed, P.Compose)
    assert [type(m) for m in composed.members] == [P.NonNeg, P.Symmetric]
    for value in cases().values():
        p = P.get(value)
        again = P.get(keras.saving.serialize_keras_object(p))
        assert type(again) is type(p) and repr(again) == repr(p)


def test_one_instance_serves_layers_of_different_shapes():
    """A parametrization object given to two layers is copied, so each is built for its own kernel."""
    shared = P.ZeroSum()
    a = layers.Conv2D(2, 3, kernel_parametrization=shared)
    b = layers.Conv2D(2, 3, kernel_parametrization=shared)
    a.build((None, 8, 8, 2))
    b.build((None, 8, 8, 1))
    for layer, shape in ((a, (3, 3, 2, 2)), (b, (3, 3, 1, 2))):
        kernel = to_numpy(layer.kernel)
        assert kernel.shape == shape
        assert np.abs(kernel).max() > 0
        np.testing.assert_allclose(kernel.sum(axis=(0, 1)), 0.0, atol=1e-6)
    assert not shared.built


@pytest.mark.parametrize("name", CASE_NAMES)
def test_the_numpy_invariant_checks_reject_random_kernels(name):
    """The checks the other tests rely on do fail on kernels that break the constraint."""
    rng = _seed(name)
    kernel = rng.standard_normal(KERNEL_SHAPE)
    assert check_invariant(name, kernel) != []
    # and on a kernel of the set moved by a little more than rounding
    projected = reference_project(name, kernel)
    assert check_invariant(name, projected, ulps=1e-6) == []
    assert check_invariant(name, projected + 1e-4 * rng.standard_normal(KERNEL_SHAPE)) != []
