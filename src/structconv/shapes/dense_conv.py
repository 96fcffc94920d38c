"""Dense <-> convolution conversion, and turning a classifier into a fully convolutional model.

A `Dense` layer after `Flatten` on an `(H, W, C)` map is a convolution with an `H x W` kernel: its
`(H * W * C, units)` weight matrix is the kernel `(H, W, C, units)` once the rows are put in the order the
flatten produced. That order is `(H, W, C)` when the flattened tensor is channels_last (or when
`Flatten(data_format="channels_first")` moved the channels last first) and `(C, H, W)` when a channels_first
tensor is flattened as it is. Getting it wrong gives a model that runs and is silently wrong.
"""

import math

from structconv.errors import invalid_argument


def _check_order(flatten_order):
    if flatten_order not in ("channels_last", "channels_first"):
        raise invalid_argument("flatten_order", flatten_order, "'channels_last' or 'channels_first'")


def dense_kernel_to_conv_kernel(weights, map_shape, flatten_order="channels_last"):
    """Reorders a Dense weight matrix `(prod(map_shape), units)` into a conv kernel `(*spatial, C, units)`.

    Args:
        weights: array `(H * W * C, units)` (any number of spatial axes).
        map_shape: the shape of one example before `Flatten`, channels last: `(*spatial, C)`.
        flatten_order: the order the features were flattened in: `"channels_last"` (`(*spatial, C)`) or
            `"channels_first"` (`(C, *spatial)`).

    >>> import numpy as np
    >>> w = np.arange(2 * 2 * 3 * 1).reshape(12, 1)
    >>> dense_kernel_to_conv_kernel(w, (2, 2, 3), "channels_first")[..., 0, 0].tolist()
    [[0, 1], [2, 3]]
    """
    import numpy as np  # here, not at the top: `structconv shapes` answers specs without NumPy

    _check_order(flatten_order)
    weights = np.asarray(weights)
    map_shape = tuple(map_shape)
    if weights.ndim != 2 or weights.shape[0] != math.prod(map_shape):
        raise invalid_argument(
            "weights",
            f"an array of shape {weights.shape}",
            f"a Dense kernel with {math.prod(map_shape)} rows for a map of shape {map_shape}",
        )
    units = weights.shape[1]
    if flatten_order == "channels_last":
        return weights.reshape(*map_shape, units)
    spatial, channels = map_shape[:-1], map_shape[-1]
    kernel = weights.reshape(channels, *spatial, units)
    rank = len(spatial)
    return np.transpose(kernel, (*range(1, rank + 1), 0, rank + 1))


def conv_kernel_to_dense_kernel(kernel, flatten_order="channels_last"):
    """The inverse of `dense_kernel_to_conv_kernel`: `(*spatial, C, units)` -> `(prod, units)`."""
    import numpy as np

    _check_order(flatten_order)
    kernel = np.asarray(kernel)
    units = kernel.shape[-1]
    if flatten_order == "channels_first":
        rank = kernel.ndim - 2
        kernel = np.transpose(kernel, (rank, *range(rank), rank + 1))
    return kernel.reshape(-1, units)


def _conv_class(rank):
    import keras

    if rank <= 3:
        return {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[rank]
    from structconv.layers import ConvND

    return lambda *args, **kwargs: ConvND(*args, rank=rank, **kwargs)


def dense_to_conv(dense, map_shape, flatten_order="channels_last", data_format="channels_last", name=None):
    """A convolution equivalent to `Flatten` then `dense` on maps of `map_shape`, with weights set.

    Args:
        dense: a built `keras.layers.Dense`.
        map_shape: one example's shape before `Flatten`, channels last: `(*spatial, C)`.
        flatten_order: how the features were flattened (see `dense_kernel_to_conv_kernel`).
        data_format: the data format of the returned convolution.
        name: the new layer's name (default: the Dense layer's).

    Returns:
        A built `keras.layers.ConvXD` (or `structconv.layers.ConvND` above rank 3) with kernel size
        `map_shape[:-1]`, `dense.units` filters, and the Dense layer's activation and bias.
    """
    import keras

    if not isinstance(dense, keras.layers.Dense) or not dense.built:
        raise invalid_argument("dense", dense, "a built keras.layers.Dense")
    weights = dense.get_weights()
    kernel = dense_kernel_to_conv_kernel(weights[0], map_shape, flatten_order)
    spatial = tuple(map_shape[:-1])
    conv = _conv_class(len(spatial))(
        dense.units,
        spatial,
        padding="valid",
        data_format=data_format,
        activation=_map_activation(dense.activation, data_format),
        use_bias=dense.use_bias,
        # Overwritten just below; zeros spares JAX compiling a random draw for a new kernel shape.
        kernel_initializer="zeros",
        name=name or dense.name,
        dtype=dense.dtype_policy,
    )
    channels = map_shape[-1]
    conv.build((None, *spatial, channels) if data_format == "channels_last" else (None, channels, *spatial))
    conv.set_weights([kernel, *weights[1:]])
    return conv


def conv_to_dense(conv, flatten_order="channels_last", name=None):
    """A `Dense` layer equivalent to `conv` applied to maps exactly its kernel's size, then `Flatten`.

    The inverse of `dense_to_conv`: a `valid` convolution whose kernel covers the whole map.
    """
    import keras

    simple = (
        getattr(conv, "built", False)
        and hasattr(conv, "kernel_size")
        and hasattr(conv, "filters")
        and conv.padding == "valid"
        and all(d == 1 for d in conv.dilation_rate)
        and (getattr(conv, "groups", 1) or 1) == 1
        and "Transpose" not in type(conv).__name__
        and getattr(conv, "kernel_parametrization", None) is None
        and type(conv).__name__.startswith("Conv")
    )
    if not simple:
        raise invalid_argument(
            "conv", conv, "a built convolution layer with padding='valid', dilation_rate 1 and groups 1"
        )
    kernel, *rest = conv.get_weights()
    dense = keras.layers.Dense(
        kernel.shape[-1],
        activation=conv.activation,
        use_bias=conv.use_bias,
        kernel_initializer="zeros",  # overwritten just below
        name=name or conv.name,
        dtype=conv.dtype_policy,
    )
    dense.build((None, math.prod(kernel.shape[:-1])))
    dense.set_weights([conv_kernel_to_dense_kernel(kernel, flatten_order), *rest])
    return dense


def _map_activation(activation, data_format):
    # Softmax is over the last axis: on a channels_first map it must be taken over axis 1 instead.
    import keras

    if data_format == "channels_first" and activation is keras.activations.softmax:
        raise invalid_argument(
            "data_format",
            data_format,
            "'channels_last' for a Dense layer with softmax (or remove the activation and add "
            "keras.layers.Softmax(axis=1))",
        )
    return activation
