"""Bad arguments raise a `StructconvError` (a `ValueError`) naming the argument and the value received."""

import re

import numpy as np
import pytest
from parametrizations.param_helpers import KERNEL_SHAPE, MASK_IN_OUT

from structconv import constraints, layers
from structconv import parametrizations as P
from structconv.errors import StructconvError


def _raises(argument, value=None):
    """`pytest.raises` for a StructconvError that names `argument` (and shows `value`, when given)."""
    pattern = rf"Invalid `{re.escape(argument)}`"
    if value is not None:
        pattern += rf": received {re.escape(repr(value))}"
    return pytest.raises(StructconvError, match=pattern)


def test_errors_are_value_errors():
    assert issubclass(StructconvError, ValueError)


@pytest.mark.parametrize(
    "mask",
    [np.ones((3, 2)), np.ones((3, 3, 2, 3)), np.ones((4, 3, 3, 2, 2))],
    ids=["in_out_shape", "full_shape", "too_many_axes"],
)
def test_mask_of_the_wrong_shape(mask):
    with _raises("mask") as raised:
        P.Mask(mask).build(KERNEL_SHAPE)
    assert str(mask.shape) in str(raised.value) and str(KERNEL_SHAPE) in str(raised.value)


def test_mask_of_the_wrong_shape_in_a_layer():
    layer = layers.Conv2D(2, 3, kernel_parametrization=P.Mask(np.ones((3, 2))))
    with _raises("mask"):
        layer.build((None, 6, 6, 2))


def test_mask_that_masks_everything():
    with _raises("mask"):
        P.Mask(np.zeros((2, 2))).build(KERNEL_SHAPE)
    with _raises("mask"):
        P.Mask(np.zeros(KERNEL_SHAPE, bool)).build(KERNEL_SHAPE)


@pytest.mark.parametrize("mask", [[[2, 0], [1, 1]], [[0.5, 1]], [["a", "b"]], [[1, 0], [1]]])
def test_mask_values_other_than_0_and_1(mask):
    with _raises("mask"):
        P.Mask(mask)


@pytest.mark.parametrize(
    "make, axis",
    [
        (lambda a: P.ZeroSum(axis=a), 4),
        (lambda a: P.ZeroSum(axis=a), (0, 7)),
        (lambda a: P.FixedSum(1.0, axis=a), -5),
        (lambda a: P.UnitNorm(axis=a), 4),
        (lambda a: P.UnitNorm(axis=a), -5),
        (lambda a: P.Symmetric(axis=a), 5),
    ],
    ids=["zero_sum", "zero_sum_tuple", "fixed_sum_negative", "unit_norm", "unit_norm_negative", "symmetric"],
)
def test_axis_out_of_range(make, axis):
    with _raises("axis", axis) as raised:
        make(axis).build(KERNEL_SHAPE)
    assert "[-4, 4)" in str(raised.value)


def test_axis_of_symmetry_must_be_spatial():
    with _raises("axis", 2):
        P.Symmetric(axis=2).build(KERNEL_SHAPE)


def test_repeated_axes():
    with _raises("axis", (0, -4)):
        P.ZeroSum(axis=(0, -4)).build(KERNEL_SHAPE)


def test_sum_over_a_single_entry():
    # axis=(2,) with one input channel: each "slice" is one entry, the constraint would fix it
    with _raises("axis", (2,)):
        P.ZeroSum(axis=(2,)).build((3, 3, 1, 2))
    with _raises("axis", 2):
        P.FixedSum(1.0, axis=2).build((3, 3, 1, 2))
    # a 1x1 kernel with the default (spatial) axes, through a layer
    layer = layers.Conv2D(2, 1, kernel_parametrization="zero_sum")
    with _raises("axis", None):
        layer.build((None, 6, 6, 2))


def test_unknown_registry_name():
    with _raises("kernel_parametrization", "zero_summ") as raised:
        P.get("zero_summ")
    assert "'zero_sum'" in str(raised.value)  # the names it does know
    with _raises("kernel_parametrization", "zero_summ"):
        layers.Conv2D(2, 3, kernel_parametrization="zero_summ")
    with _raises("kernel_parametrization", "zero_summ"):
        P.Compose(["non_neg", "zero_summ"])


def test_identifier_of_the_wrong_type():
    with _raises("kernel_parametrization", 3):
        P.get(3)


def test_compose_in_an_order_that_undoes_a_constraint():
    with pytest.raises(StructconvError, match=r"order in `Compose`.*UnitNorm") as raised:
        P.Compose([P.UnitNorm(), P.ZeroSum()]).build(KERNEL_SHAPE)
    assert "ZeroSum" in str(raised.value)
    # through a layer: at build, when the kernel shape is known
    layer = layers.Conv2D(2, 3, kernel_parametrization=[P.UnitNorm(), P.ZeroSum()])
    with pytest.raises(StructconvError, match=r"order in `Compose`"):
        layer.build((None, 6, 6, 2))
    # and the right order builds
    P.Compose([P.ZeroSum(), P.UnitNorm()]).build(KERNEL_SHAPE)


def test_empty_compose():
    with _raises("parametrizations", []):
        P.Compose([])


def test_sum_that_cannot_be_met_after_a_mask():
    """Masked whole kernels cannot sum to 1 (they can sum to 0: `test_protocol`)."""
    with pytest.raises(StructconvError, match=r"Invalid `(total|axis)`"):
        P.Compose([P.Mask(MASK_IN_OUT), P.FixedSum(1.0)]).build(KERNEL_SHAPE)


def test_sum_that_cannot_be_met_after_fixed_taps():
    """Every tap pinned to 1: no kernel sums to 0. The error names an argument, not an empty list of
    "later members" (nothing comes after the sum)."""
    taps = {(i, j): 1.0 for i in range(3) for j in range(3)}
    with pytest.raises(StructconvError, match=r"Invalid `(total|axis|taps)`") as raised:
        P.Compose([P.FixedTaps(taps), P.ZeroSum()]).build(KERNEL_SHAPE)
    assert "later member ()" not in str(raised.value)


def test_kernel_constraint_with_kernel_parametrization():
    with _raises("kernel_constraint", "non_neg"):
        layers.Conv2D(2, 3, kernel_parametrization="zero_sum", kernel_constraint="non_neg")
    with _raises("kernel_constraint"):
        layers.Conv2DTranspose(
            2, 3, kernel_parametrization="zero_sum", kernel_constraint=constraints.ZeroSum()
        )


def test_fixed_sum_total_not_a_number():
    with _raises("total", "1"):
        P.FixedSum("1")
    with _raises("total", True):
        P.FixedSum(True)
    with _raises("total", "1"):
        constraints.FixedSum("1")


@pytest.mark.parametrize(
    "taps, shape",
    [
        ({"center": 1.0}, (2, 2, 1, 1)),
        ({(3, 0): 1.0}, (3, 3, 1, 1)),
        ({(0, 0, 0): 1.0}, (3, 3, 1, 1)),
    ],
    ids=["center_of_even_kernel", "out_of_range", "wrong_length"],
)
def test_fixed_taps_position(taps, shape):
    with _raises("taps"):
        P.FixedTaps(taps).build(shape)


@pytest.mark.parametrize("taps", [{}, {"center": "one"}, [(1, 2, 3)], {(0.5, 1): 1.0}])
def test_fixed_taps_arguments(taps):
    with _raises("taps"):
        P.FixedTaps(taps)


def test_projection_arguments_are_checked_when_made():
    with _raises("mask"):
        constraints.Mask([[2, 0]])
