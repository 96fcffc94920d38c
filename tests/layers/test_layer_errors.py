"""Invalid arguments raise `ValueError` (`StructconvError`) or `TypeError` naming the argument.

Most are caught at construction, before the layer sees an input; the input's channels at build; the
input's rank when the layer is called.
"""

import numpy as np
import pytest

import structconv.layers as sl
from structconv.errors import StructconvError


def _raises(argument, value=None, exception=StructconvError):
    """`pytest.raises` whose message must name `argument` (and show `value`, when given)."""
    pattern = rf"`?{argument}`?"
    if value is not None:
        pattern += rf".*{value}"
    return pytest.raises(exception, match=pattern)


CONSTRUCTORS = {
    "ConvND": lambda **kw: sl.ConvND(**{"filters": 2, "kernel_size": 3, "rank": 2, **kw}),
    "ConvNDTranspose": lambda **kw: sl.ConvNDTranspose(
        **{"filters": 2, "kernel_size": 3, "rank": 4, **kw}
    ),
    "Conv1D": lambda **kw: sl.Conv1D(**{"filters": 2, "kernel_size": 3, **kw}),
    "Conv3DTranspose": lambda **kw: sl.Conv3DTranspose(**{"filters": 2, "kernel_size": 3, **kw}),
}


@pytest.mark.parametrize("make", CONSTRUCTORS.values(), ids=CONSTRUCTORS.keys())
@pytest.mark.parametrize("value", [0, -1])
@pytest.mark.parametrize("argument", ["filters", "kernel_size", "strides", "dilation_rate"])
def test_non_positive_sizes(make, argument, value):
    with _raises(argument, value):
        make(**{argument: value})


@pytest.mark.parametrize("argument", ["kernel_size", "strides", "dilation_rate"])
def test_non_positive_entry_in_tuple(argument):
    kwargs = {"kernel_size": (3, 3, 3), argument: (3, 0, 1)}
    with _raises(argument, r"\(3, 0, 1\)"):
        sl.ConvND(2, **kwargs)


@pytest.mark.parametrize("value", [2.0, "2", None, True])
def test_filters_of_wrong_type(value):
    with pytest.raises((StructconvError, TypeError), match="filters"):
        sl.ConvND(value, 3, rank=2)


@pytest.mark.parametrize("make", CONSTRUCTORS.values(), ids=CONSTRUCTORS.keys())
@pytest.mark.parametrize("padding", ["sam", "VALIDD", -1, 1.5, ("same",) * 7])
def test_unknown_padding(make, padding):
    with _raises("padding"):
        make(padding=padding)


@pytest.mark.parametrize("mode", ["mirror", "constant", "", None])
def test_unknown_padding_mode(mode):
    with _raises("padding_mode"):
        sl.ConvND(2, 3, rank=3, padding="same", padding_mode=mode)


@pytest.mark.parametrize("make", CONSTRUCTORS.values(), ids=CONSTRUCTORS.keys())
@pytest.mark.parametrize("data_format", ["channels_middle", "NHWC", 1])
def test_unknown_data_format(make, data_format):
    with _raises("data_format", data_format):
        make(data_format=data_format)


@pytest.mark.parametrize(
    "padding, rank",
    [
        (("same", 1), 3),
        (("valid",) * 3, 2),
        (((0, 1),) * 5, 4),
        (((1, 2), (0, 1)), 1),
        ((1, 2, 3), 2),
    ],
)
def test_padding_tuple_with_wrong_number_of_axes(padding, rank):
    with _raises("padding", "spatial axis"):
        sl.ConvND(2, 3, rank=rank, padding=padding)
    with _raises("padding"):
        sl.ConvNDTranspose(2, 3, rank=rank, padding=padding)


@pytest.mark.parametrize("padding", [("same", (1, 2, 3)), ("same", (-1, 0)), ("same", "sam")])
def test_bad_entry_in_padding_tuple(padding):
    with _raises("padding"):
        sl.Conv2D(2, 3, padding=padding)


@pytest.mark.parametrize("filters, groups", [(3, 2), (4, 3), (5, 4)])
def test_filters_not_divisible_by_groups(filters, groups):
    with _raises("groups", groups):
        sl.ConvND(filters, 3, rank=2, groups=groups)


@pytest.mark.parametrize("groups", [0, -2])
def test_non_positive_groups(groups):
    with _raises("groups", groups):
        sl.ConvND(4, 3, rank=2, groups=groups)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_input_channels_not_divisible_by_groups(data_format):
    layer = sl.ConvND(4, 2, rank=4, groups=2, data_format=data_format)
    shape = (1, 3, 3, 3, 3, 3)  # 3 channels, on either axis
    with _raises("groups", 2):
        layer.build(shape)
    with _raises("groups", 4):
        sl.Conv2D(4, 2, groups=4, data_format=data_format)(np.zeros((1, 6, 6, 6), "float32"))


def test_unknown_input_channels_at_build():
    with _raises("input_shape"):
        sl.ConvND(2, 3, rank=2).build((None, 5, 5, None))


@pytest.mark.parametrize("cls", [sl.ConvND, sl.ConvNDTranspose])
def test_int_kernel_size_without_rank(cls):
    with _raises("rank"):
        cls(2, 3)


@pytest.mark.parametrize("rank", [0, -1, 2.0, "2"])
def test_invalid_rank(rank):
    with _raises("rank"):
        sl.ConvND(2, 3, rank=rank)


@pytest.mark.parametrize(
    "cls, rank",
    [
        (sl.Conv2D, 3),
        (sl.Conv1D, 2),
        (sl.Conv4D, 3),
        (sl.Conv3DTranspose, 2),
        (sl.Conv4DTranspose, 5),
    ],
)
def test_rank_mismatch_with_fixed_rank_alias(cls, rank):
    with _raises("rank", rank):
        cls(2, 3, rank=rank)


@pytest.mark.parametrize("cls, kernel_size", [(sl.Conv2D, (3, 3, 3)), (sl.Conv3DTranspose, (2, 2))])
def test_kernel_size_tuple_of_other_rank_in_alias(cls, kernel_size):
    with _raises("kernel_size"):
        cls(2, kernel_size)


def test_kernel_size_tuple_disagrees_with_rank():
    with _raises("kernel_size"):
        sl.ConvND(2, (3, 3, 3), rank=2)


@pytest.mark.parametrize(
    "strides, output_padding",
    [(1, 1), (2, 2), (2, 3), ((2, 3), (1, 3)), ((1, 2), (1, 0))],
)
def test_output_padding_not_smaller_than_stride(strides, output_padding):
    with _raises("output_padding"):
        sl.Conv2DTranspose(2, 3, strides=strides, output_padding=output_padding)


def test_output_padding_negative_or_wrong_length():
    with _raises("output_padding"):
        sl.Conv2DTranspose(2, 3, strides=2, output_padding=-1)
    with _raises("output_padding"):
        sl.ConvNDTranspose(2, 3, rank=4, strides=2, output_padding=(1, 1, 1))


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: sl.Conv2D(2, 3), (1, 5, 5, 5, 2)),
        (lambda: sl.Conv3D(2, 1), (1, 5, 2)),
        (lambda: sl.ConvND(2, 2, rank=4), (1, 5, 5, 5, 2)),
        (lambda: sl.ConvND(2, 2, rank=5), (1, 3, 3, 3, 3, 3, 3, 2)),
        (lambda: sl.Conv2DTranspose(2, 3), (1, 5, 2)),
        (lambda: sl.ConvNDTranspose(2, 2, rank=4), (1, 3, 3, 3, 3, 3, 2)),
    ],
)
def test_input_of_wrong_rank(layer, shape):
    """Keras's `InputSpec` check: the message gives the expected and the received number of dims."""
    layer = layer()
    with pytest.raises(
        ValueError, match=rf"expected ndim={layer.rank + 2}, found ndim={len(shape)}"
    ):
        layer(np.zeros(shape, "float32"))


def test_input_of_wrong_rank_after_build():
    layer = sl.Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=5"):
        layer(np.zeros((1, 5, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 2"):
        layer(np.zeros((1, 5, 5, 3), "float32"))


@pytest.mark.parametrize("shape", [(1, 5, 5, 5, 2), (1, 5, 2)])
def test_compute_output_shape_of_wrong_rank(shape):
    with _raises("input_shape"):
        sl.Conv2D(2, 3).compute_output_shape(shape)


def test_input_too_small_for_kernel():
    with _raises("kernel_size"):
        sl.Conv2D(2, 5)(np.zeros((1, 3, 3, 1), "float32"))


def test_reflect_padding_larger_than_input():
    with _raises("padding"):
        sl.Conv2D(2, 5, padding="same", padding_mode="reflect")(np.zeros((1, 2, 2, 1), "float32"))


@pytest.mark.parametrize("argument, value", [("groups", 2), ("padding_mode", "reflect")])
def test_transposed_layer_rejects_convnd_only_arguments(argument, value):
    """`ConvNDTranspose` has no `groups` or `padding_mode` (nor has `keras.layers.Conv2DTranspose`,
    which raises for unknown keyword arguments): accepting them would silently ignore them."""
    with pytest.raises((TypeError, ValueError), match=argument):
        sl.ConvNDTranspose(4, 3, rank=2, **{argument: value})
    with pytest.raises((TypeError, ValueError), match=argument):
        sl.Conv2DTranspose(4, 3, **{argument: value})


def test_unknown_keyword_argument():
    with pytest.raises((TypeError, ValueError), match="paddingmode"):
        sl.ConvND(2, 3, rank=2, paddingmode="reflect")


def test_errors_are_value_errors():
    assert issubclass(StructconvError, ValueError)
    with pytest.raises(ValueError):
        sl.ConvND(0, 3, rank=2)


SYMBOLIC_TOO_SMALL = [
    # (layer, input shape without batch, argument named): as strict as Keras's symbolic call.
    (lambda: sl.Conv1D(1, 2, dilation_rate=10), (10, 3), "input_shape"),
    (lambda: sl.Conv2D(1, (2, 2), dilation_rate=(10, 10)), (10, 10, 3), "input_shape"),
    (lambda: sl.Conv3D(1, 3, padding=((0, 0), 1, "valid")), (2, 4, 4, 3), "input_shape"),
    (lambda: sl.ConvND(1, 3, rank=4), (3, 3, 2, 3, 1), "input_shape"),
    (lambda: sl.Conv1DTranspose(1, 2), (0, 3), "input_shape"),
]


@pytest.mark.parametrize("case", range(len(SYMBOLIC_TOO_SMALL)))
def test_symbolic_call_refuses_an_input_too_small(case):
    import keras

    make, shape, argument = SYMBOLIC_TOO_SMALL[case]
    with _raises(argument):
        make()(keras.Input(shape))
    with _raises(argument):  # compute_output_shape alone too
        make().compute_output_shape((None, *shape))
    # An unknown size is not refused.
    unknown = (None,) * (len(shape) - 1) + shape[-1:]
    assert make()(keras.Input(unknown)).shape[-1] == 1
