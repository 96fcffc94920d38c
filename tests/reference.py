"""Plain NumPy references for convolution, written independently of `structconv`.

Nothing here imports the library: padding is resolved with its own arithmetic, the convolution loops over
every kernel tap, and the transposed convolution scatters every input sample. Everything runs in float64.
Layouts are Keras's: inputs `(batch, *spatial, channels)` (or channels_first), kernels
`(*kernel_size, in_channels // groups, filters)` for `conv` and `(*kernel_size, filters, in_channels)` for
`conv_transpose`.
"""

import itertools

import numpy as np

_NP_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def extent(kernel_size, dilation):
    """Length a dilated kernel covers."""
    return (kernel_size - 1) * dilation + 1


def same_pads(size, kernel_size, stride=1, dilation=1):
    """TensorFlow's "same" padding of one axis: `ceil(size / stride)` outputs, the odd pad at the end.

    >>> same_pads(224, 7, 2)
    (2, 3)
    >>> same_pads(5, 2, 1)
    (0, 1)
    """
    outputs = -(-size // stride)
    total = max((outputs - 1) * stride + extent(kernel_size, dilation) - size, 0)
    return total // 2, total - total // 2


def axis_pads(entry, size, kernel_size, stride=1, dilation=1):
    """`(before, after)` of one axis for a padding name, an int or a pair."""
    e = extent(kernel_size, dilation)
    if isinstance(entry, str):
        return {
            "valid": (0, 0),
            "same": same_pads(size, kernel_size, stride, dilation) if size is not None else None,
            "full": (e - 1, e - 1),
            "causal": (e - 1, 0),
        }[entry]
    if isinstance(entry, (int, np.integer)):
        return int(entry), int(entry)
    before, after = entry
    return int(before), int(after)


def per_axis(padding, rank):
    """Splits a padding argument of any form into one entry per spatial axis."""
    if isinstance(padding, (str, int, np.integer)):
        return [padding] * rank
    assert len(padding) == rank, (padding, rank)
    return list(padding)


def padding_pairs(padding, spatial_shape, kernel_size, strides, dilation):
    """Resolves a padding argument of any form to `(before, after)` pairs for a known input."""
    rank = len(spatial_shape)
    strides, dilation = expand(strides, rank), expand(dilation, rank)
    return [
        axis_pads(entry, n, k, s, d)
        for entry, n, k, s, d in zip(
            per_axis(padding, rank), spatial_shape, kernel_size, strides, dilation
        )
    ]


def expand(value, rank):
    """An int or a sequence as a list of `rank` ints."""
    if isinstance(value, (int, np.integer)):
        return [int(value)] * rank
    assert len(value) == rank
    return [int(v) for v in value]


def conv_output_length(size, kernel_size, stride, pads, dilation):
    return (size + pads[0] + pads[1] - extent(kernel_size, dilation)) // stride + 1


def to_channels_last(x):
    return np.moveaxis(x, 1, -1)


def to_channels_first(x):
    return np.moveaxis(x, -1, 1)


def conv_reference(x, kernel, strides, padding_pairs, dilation, groups=1, padding_mode="zeros",
                   data_format="channels_last"):
    """Convolution (cross-correlation) in float64 by a loop over every kernel tap.

    `padding_pairs` is one `(before, after)` pair per spatial axis (see `padding_pairs()`).
    """
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    if data_format == "channels_first":
        x = to_channels_last(x)
    rank = x.ndim - 2
    strides, dilation = expand(strides, rank), expand(dilation, rank)
    kernel_size = kernel.shape[:rank]
    channels, filters = x.shape[-1], kernel.shape[-1]
    assert kernel.shape[-2] * groups == channels and filters % groups == 0
    pad_width = [(0, 0)] + [tuple(p) for p in padding_pairs] + [(0, 0)]
    x = np.pad(x, pad_width, mode=_NP_PAD_MODES[padding_mode])
    outputs = [
        (n - extent(k, d)) // s + 1
        for n, k, s, d in zip(x.shape[1:-1], kernel_size, strides, dilation)
    ]
    assert all(o >= 1 for o in outputs), outputs
    in_group, out_group = channels // groups, filters // groups
    y = np.zeros((x.shape[0], *outputs, filters))
    for taps in itertools.product(*(range(k) for k in kernel_size)):
        window = x[
            (slice(None),)
            + tuple(
                slice(t * d, t * d + (o - 1) * s + 1, s)
                for t, d, o, s in zip(taps, dilation, outputs, strides)
            )
        ]
        for g in range(groups):
            y[..., g * out_group : (g + 1) * out_group] += (
                window[..., g * in_group : (g + 1) * in_group]
                @ kernel[taps][:, g * out_group : (g + 1) * out_group]
            )
    return to_channels_first(y) if data_format == "channels_first" else y


def conv_transpose_full_reference(y, kernel, strides, dilation):
    """The uncropped transposed convolution (channels_last), by scattering every input sample.

    Length `(n - 1) * stride + extent` on each axis: `full[o * s + t * d] += y[o] . kernel[t]`.
    """
    y = np.asarray(y, np.float64)
    kernel = np.asarray(kernel, np.float64)
    rank = y.ndim - 2
    strides, dilation = expand(strides, rank), expand(dilation, rank)
    kernel_size = kernel.shape[:rank]
    sizes = [(n - 1) * s + extent(k, d) for n, k, s, d in zip(y.shape[1:-1], kernel_size, strides,
                                                              dilation)]
    full = np.zeros((y.shape[0], *sizes, kernel.shape[-2]))
    for position in itertools.product(*(range(n) for n in y.shape[1:-1])):
        sample = y[(slice(None), *position)]  # (batch, in_channels)
        for taps in itertools.product(*(range(k) for k in kernel_size)):
            target = tuple(o * s + t * d for o, t, s, d in zip(position, taps, strides, dilation))
            full[(slice(None), *target)] += sample @ kernel[taps].T
    return full


def conv_transpose_output_length(size, kernel_size, stride, entry, output_padding, dilation):
    """Keras's output length for "valid"/"same"; otherwise the length `L` the forward padding maps to
    `size` outputs, plus `output_padding` (default 0)."""
    e = extent(kernel_size, dilation)
    if entry == "valid" and output_padding is None:
        return size * stride + max(e - stride, 0)
    if entry == "same" and output_padding is None:
        return size * stride
    output_padding = output_padding or 0
    if entry == "same":
        pads = (e // 2, e // 2)
    else:
        pads = axis_pads(entry, None, kernel_size, stride, dilation)
    return (size - 1) * stride + e - pads[0] - pads[1] + output_padding


def crop_axis(x, axis, start, length):
    """`x[start:start + length]` on `axis`, zero-extended past the end."""
    stop = min(start + length, x.shape[axis])
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    x = x[tuple(index)]
    missing = length - x.shape[axis]
    if missing > 0:
        pad = [(0, 0)] * x.ndim
        pad[axis] = (0, missing)
        x = np.pad(x, pad)
    return x


def conv_transpose_reference(y, kernel, strides=1, padding="valid", output_padding=None, dilation=1,
                             data_format="channels_last"):
    """Transposed convolution: the full output cropped to `full[before:before + L]` on each axis.

    `L` is `conv_transpose_output_length` and `before` the forward padding's "before" for an input of
    length `L` (the adjoint of `conv_reference` whenever that maps `L` back to the input's length; for
    "same" TensorFlow's rule, which agrees there and also covers the lengths it does not map back).
    """
    y = np.asarray(y, np.float64)
    if data_format == "channels_first":
        y = to_channels_last(y)
    rank = y.ndim - 2
    strides, dilation = expand(strides, rank), expand(dilation, rank)
    extras = [None] * rank if output_padding is None else expand(output_padding, rank)
    kernel_size = np.shape(kernel)[:rank]
    full = conv_transpose_full_reference(y, kernel, strides, dilation)
    for axis, (n, k, s, d, entry, extra) in enumerate(
        zip(y.shape[1:-1], kernel_size, strides, dilation, per_axis(padding, rank), extras)
    ):
        length = conv_transpose_output_length(n, k, s, entry, extra, d)
        if entry == "same":
            # TensorFlow's rule (padding computed from the output shape): the same as the forward "same"
            # padding of `length` whenever that maps `length` back to `n`, and defined even when it does
            # not ("same", `output_padding=0`, even extent).
            before = max((n - 1) * s + extent(k, d) - length, 0) // 2
        else:
            before = axis_pads(entry, length, k, s, d)[0]
        full = crop_axis(full, 1 + axis, before, length)
    return to_channels_first(full) if data_format == "channels_first" else full


def keras_conv_transpose_reference(y, kernel, strides, padding, output_padding, dilation,
                                   data_format="channels_last"):
    """Keras 3's `conv_transpose` window ("valid"/"same"), from its documented JAX padding rule.

    Keras pads the stride-dilated input by `(left, right)` before a full correlation with the flipped
    kernel, i.e. it returns `full[extent - 1 - left : ...]` with its own output length.
    """
    y = np.asarray(y, np.float64)
    if data_format == "channels_first":
        y = to_channels_last(y)
    rank = y.ndim - 2
    strides, dilation = expand(strides, rank), expand(dilation, rank)
    extras = [None] * rank if output_padding is None else expand(output_padding, rank)
    full = conv_transpose_full_reference(y, kernel, strides, dilation)
    for axis, (n, k, s, d, extra) in enumerate(
        zip(y.shape[1:-1], np.shape(kernel)[:rank], strides, dilation, extras)
    ):
        e = extent(k, d)
        if padding == "valid":
            extra = max(e, s) - e if extra is None else extra
            left, right = e - 1, e - 1 + extra
        else:
            total = s + e - 2 if extra is None else e + e % 2 - 2 + extra
            left = min(total // 2 + total % 2, e - 1)
            right = total - left
        length = (n - 1) * s + 1 + left + right - e + 1
        full = crop_axis(full, 1 + axis, e - 1 - left, length)
    return to_channels_first(full) if data_format == "channels_first" else full


def numerical_gradient(function, x, eps=1e-6):
    """Central finite differences of a scalar NumPy function at `x` (float64), same shape as `x`."""
    x = np.array(x, np.float64, order="C")  # C order: `reshape(-1)` below must be a view, not a copy
    gradient = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), gradient.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = float(function(x))
        flat[i] = saved - eps
        minus = float(function(x))
        flat[i] = saved
        grad_flat[i] = (plus - minus) / (2 * eps)
    return gradient


def numerical_directional_derivative(function, x, direction, eps=1e-6):
    """Central difference of a scalar NumPy function at `x` along `direction`: `<grad f(x), direction>`."""
    x = np.asarray(x, np.float64)
    direction = np.asarray(direction, np.float64)
    plus = float(function(x + eps * direction))
    minus = float(function(x - eps * direction))
    return (plus - minus) / (2 * eps)
