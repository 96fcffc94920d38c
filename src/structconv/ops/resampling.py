"""Upsampling, zero padding and cropping of the spatial axes, any rank, one axis at a time.

Every op here is separable: it acts on each spatial axis in turn with `keras.ops` (repeat, slice,
concatenate), so it needs nothing rank-specific from the backend, and its gradient is the autodiff of those.

Linear upsampling uses half-pixel centres with edges clamped, the rule of `keras.ops.image.resize`
(`"bilinear"`), `tf.image.resize` and `torch.nn.functional.interpolate(align_corners=False)`: output `j` of
an axis upsampled by `s` samples the input at `(j + 0.5) / s - 0.5`. On `1 2` by 2: `1 1.25 1.75 2`.
"""

import keras
from keras import ops

from structconv._backend import get_backend
from structconv.errors import invalid_argument
from structconv.ops.conv import input_rank
from structconv.ops.padding import pad_axis, pad_spatial, slice_axis
from structconv.ops.pooling import spatial_axes
from structconv.shapes import arithmetic

INTERPOLATIONS = ("nearest", "linear")
# Keras's names for linear interpolation at ranks 2 and 3, accepted so that configs carry over.
_LINEAR_ALIASES = ("bilinear", "trilinear")


def normalize_interpolation(interpolation):
    """`"nearest"` or `"linear"` (also read from `"bilinear"` and `"trilinear"`).

    >>> normalize_interpolation("Bilinear")
    'linear'
    """
    if isinstance(interpolation, str):
        name = interpolation.lower()
        if name in INTERPOLATIONS:
            return name
        if name in _LINEAR_ALIASES:
            return "linear"
    raise invalid_argument(
        "interpolation", interpolation, "'nearest' or 'linear' ('bilinear' and 'trilinear' mean 'linear')"
    )


def _data_format(data_format):
    return arithmetic.normalize_data_format(data_format, keras.config.image_data_format())


def upsample(inputs, size=2, data_format=None, interpolation="nearest"):
    """Upsamples every spatial axis of `inputs` by an integer factor, any rank >= 1.

    Args:
        inputs: tensor `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.
        size: int or tuple of `rank` ints >= 1, the factor per axis.
        data_format: `"channels_last"`, `"channels_first"` or `None` for `keras.config.image_data_format()`.
        interpolation: `"nearest"` (each entry repeated: `1 2 -> 1 1 2 2`) or `"linear"` (half-pixel
            centres, edges clamped: `1 2 -> 1 1.25 1.75 2`).

    Returns:
        Tensor with each spatial size multiplied by its factor.

    Example:

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0], "float32").reshape(1, 2, 1, 1, 1, 1)
    >>> [float(v) for v in np.ravel(upsample(x, (2, 1, 1, 1), interpolation="linear"))]
    [1.0, 1.25, 1.75, 2.0]
    """
    inputs = ops.convert_to_tensor(inputs)
    rank = input_rank(inputs)
    size = arithmetic.normalize_tuple(size, rank, "size")
    interpolation = normalize_interpolation(interpolation)
    x = inputs
    for axis, factor in zip(spatial_axes(rank, _data_format(data_format)), size):
        if factor == 1:
            continue
        x = ops.repeat(x, factor, axis=axis) if interpolation == "nearest" else _linear_axis(x, axis, factor)
    return x


def _linear_axis(x, axis, factor):
    """Linear upsampling of one axis: output phase `p` of every input `i` lies at offset
    `d = (p + 0.5) / factor - 0.5` from it, between `i` and its left (`d < 0`) or right neighbour."""
    size = x.shape[axis]
    padded = pad_axis(x, axis, 1, 1, "replicate")  # clamps the edges
    left = slice_axis(padded, axis, 0, size)
    centre = slice_axis(padded, axis, 1, size + 1)
    right = slice_axis(padded, axis, 2, size + 2)
    phases = []
    for phase in range(factor):
        offset = (phase + 0.5) / factor - 0.5
        neighbour = left if offset < 0 else right
        phases.append(centre + abs(offset) * (neighbour - centre))
    stacked = ops.stack(phases, axis=axis + 1)
    shape = list(stacked.shape)
    return ops.reshape(stacked, [-1, *shape[1:axis], size * factor, *shape[axis + 2 :]])


def zero_pad(inputs, padding, data_format=None):
    """Pads the spatial axes of `inputs` with zeros, any rank >= 1.

    Args:
        inputs: tensor `(batch, *spatial, channels)` or `(batch, channels, *spatial)`.
        padding: an int for every side, one int per axis (both sides), or one `(before, after)` pair per
            axis (for rank 1 a bare pair is `(before, after)`), as `keras.layers.ZeroPadding2D`.
        data_format: as `upsample`.

    Example:

    >>> import numpy as np
    >>> tuple(zero_pad(np.ones((1, 2, 2, 2, 2, 1), "float32"), (1, 0, (0, 2), 0)).shape)
    (1, 4, 2, 4, 2, 1)
    """
    inputs = ops.convert_to_tensor(inputs)
    widths = arithmetic.normalize_pad_widths(padding, input_rank(inputs), "padding")
    return pad_spatial(inputs, widths, "zeros", _data_format(data_format))


def crop(inputs, cropping, data_format=None):
    """Removes entries from both ends of each spatial axis, any rank >= 1.

    Args:
        inputs: tensor `(batch, *spatial, channels)` or `(batch, channels, *spatial)`.
        cropping: as `padding` of `zero_pad`: how many entries to remove before and after on each axis.
        data_format: as `upsample`.

    Example:

    >>> import numpy as np
    >>> tuple(crop(np.ones((1, 5, 5, 5, 5, 1), "float32"), ((1, 2), 0, 1, 0)).shape)
    (1, 2, 5, 3, 5, 1)
    """
    inputs = ops.convert_to_tensor(inputs)
    rank = input_rank(inputs)
    widths = arithmetic.normalize_pad_widths(cropping, rank, "cropping")
    axes = spatial_axes(rank, _data_format(data_format))
    check_cropping(tuple(inputs.shape[a] for a in axes), widths, cropping)
    index = [slice(None)] * len(inputs.shape)
    for axis, (before, after) in zip(axes, widths):
        index[axis] = slice(before, inputs.shape[axis] - after)
    return get_backend().slice_window(inputs, tuple(index))


def check_cropping(spatial_shape, widths, cropping):
    """Every axis must keep at least one entry after cropping (unknown sizes pass)."""
    for size, (before, after) in zip(spatial_shape, widths):
        if size is not None and before + after >= size:
            raise invalid_argument(
                "cropping",
                cropping,
                f"less than each axis's size to remove (the input's spatial shape is {tuple(spatial_shape)})",
            )
