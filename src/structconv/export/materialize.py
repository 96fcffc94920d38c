"""`materialize`: replace structconv layers of rank <= 3 by stock Keras layers holding their kernels."""

import keras

from structconv.errors import invalid_argument
from structconv.export.stock_support import stock_conv_runs
from structconv.layers.base_conv import BaseConvND

_STOCK = {
    (False, 1): keras.layers.Conv1D,
    (False, 2): keras.layers.Conv2D,
    (False, 3): keras.layers.Conv3D,
    (True, 1): keras.layers.Conv1DTranspose,
    (True, 2): keras.layers.Conv2DTranspose,
    (True, 3): keras.layers.Conv3DTranspose,
}
_ZERO_PADDING = {1: keras.layers.ZeroPadding1D, 2: keras.layers.ZeroPadding2D, 3: keras.layers.ZeroPadding3D}


def _stock_padding(layer):
    """Keras's padding string for `layer`, and the explicit zero padding to put before it (or None)."""
    entries = layer.arguments.padding
    if all(entry == entries[0] for entry in entries) and entries[0] in ("valid", "same"):
        return entries[0], None
    if layer.rank == 1 and entries[0] == "causal" and not layer.transposed:
        return "causal", None
    if layer.transposed or any(entry == "same" for entry in entries):
        return None, None
    pads = [(0, 0) if e == "valid" else e if isinstance(e, tuple) else None for e in entries]
    if any(p is None for p in pads):  # "full" and "causal" depend only on the kernel: resolve them
        from structconv.shapes.arithmetic import resolve_axis_padding

        pads = [
            resolve_axis_padding(e, None, k, s, d)
            for e, k, s, d in zip(entries, layer.kernel_size, layer.strides, layer.dilation_rate)
        ]
    return "valid", tuple(pads)


def _replacement(layer):
    """A stock Keras layer (or a Sequential of zero padding and one) computing what `layer` computes."""
    reason = None
    padding, explicit = _stock_padding(layer)
    if layer.rank > 3:
        reason = f"rank {layer.rank} (stock Keras stops at 3)"
    elif padding is None:
        reason = f"padding {layer.padding!r} on a layer Keras cannot pad that way"
    elif not layer.transposed and layer.padding_mode != "zeros":
        reason = f"padding_mode {layer.padding_mode!r}"
    elif max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        reason = "strides > 1 together with dilation_rate > 1"
    elif layer.transposed and max(layer.dilation_rate) > 1 and not stock_conv_runs(
        layer.rank, True, dilated=True
    ):
        reason = (
            f"dilation_rate {layer.dilation_rate} on a transposed convolution: the {keras.backend.backend()} "
            "backend has no stock kernel for it on this device (TensorFlow's CPU kernels without oneDNN)"
        )
    if reason:
        return None, reason
    # Where the device has no channels_first kernel, the stock layer runs channels_last between two Permutes.
    data_format = layer.data_format
    if data_format == "channels_first" and not stock_conv_runs(layer.rank, layer.transposed, data_format):
        data_format = "channels_last"
    config = {
        "filters": layer.filters,
        "kernel_size": layer.kernel_size,
        "strides": layer.strides,
        "padding": padding,
        "data_format": data_format,
        "dilation_rate": layer.dilation_rate,
        "activation": layer.activation,
        "use_bias": layer.use_bias,
        "dtype": layer.dtype_policy,
    }
    if layer.transposed:
        config["output_padding"] = layer.output_padding
    else:
        config["groups"] = layer.groups
    stock = _STOCK[(layer.transposed, layer.rank)](name=layer.name, **config)
    sequence = [stock]
    if explicit is not None:
        if layer.rank == 1:
            zero_padding = keras.layers.ZeroPadding1D(padding=explicit[0])
        else:
            zero_padding = _ZERO_PADDING[layer.rank](padding=explicit, data_format=data_format)
        sequence.insert(0, zero_padding)
    if data_format != layer.data_format:
        rank = layer.rank
        sequence = [keras.layers.Permute((*range(2, rank + 2), 1)), *sequence,
                    keras.layers.Permute((rank + 1, *range(1, rank + 1)))]
    if len(sequence) == 1:
        return stock, None
    return keras.Sequential(sequence, name=layer.name), None


def stock_conv_layer(layer):
    """The stock convolution in a layer `materialize` made (itself, or the one inside its `Sequential`)."""
    if isinstance(layer, keras.Sequential):
        return next(inner for inner in layer.layers if isinstance(inner, tuple(_STOCK.values())))
    return layer


def materialize(model):
    """Returns a copy of `model` in which every structconv convolution layer of rank <= 3 is a stock
    `keras.layers.ConvXD` (or `ConvXDTranspose`) holding the layer's effective kernel, with identical
    outputs: parametrizations are evaluated once, so the result loads anywhere Keras does, without
    structconv. The stock layers run on the current device: where the backend has no channels_first kernel
    (TensorFlow on a CPU without oneDNN), a channels_first layer becomes a channels_last one between two
    `keras.layers.Permute`.

    Args:
        model: a functional or `Sequential` Keras model.

    Returns:
        A new model with the same inputs, outputs and weights.

    Raises:
        StructconvError: for a structconv layer that stock Keras cannot express (rank above 3, reflect /
            replicate / circular padding, strides with dilation) or cannot run on this device (a dilated
            transposed convolution on TensorFlow's CPU kernels without oneDNN), naming the layer and the
            reason.

    Example:

    >>> import keras, numpy as np
    >>> import structconv
    >>> inputs = keras.Input((16, 16, 1))
    >>> conv = structconv.layers.Conv2D(4, 5, kernel_parametrization="zero_sum")
    >>> model = keras.Model(inputs, conv(inputs))
    >>> exported = materialize(model)
    >>> type(exported.layers[-1]).__module__.startswith("keras")
    True
    >>> x = np.random.rand(2, 16, 16, 1).astype("float32")
    >>> bool(np.allclose(model.predict(x, verbose=0), exported.predict(x, verbose=0), atol=1e-6))
    True
    """
    if not isinstance(model, (keras.Sequential, keras.Model)) or not hasattr(model, "inputs"):
        raise invalid_argument("model", model, "a functional or Sequential Keras model")

    def clone(layer):
        if isinstance(layer, BaseConvND):
            replacement, reason = _replacement(layer)
            if replacement is None:
                raise invalid_argument(
                    "model", f"a model with layer {layer.name!r}", "layers stock Keras can express", detail=
                    f"Layer {layer.name!r} cannot be materialized: {reason}.",
                )
            return replacement
        return layer.__class__.from_config(layer.get_config())

    exported = keras.models.clone_model(model, clone_function=clone, recursive=True)
    _copy_weights(model, exported)
    return exported


def _copy_weights(model, exported):
    """Copies weights layer by layer (by name), the effective kernels of structconv layers, into nested
    models too."""
    import keras

    for original in model.layers:
        if not original.weights:
            continue
        target = exported.get_layer(original.name)
        if isinstance(original, BaseConvND):
            weights = [keras.ops.convert_to_numpy(original.kernel)]
            if original.use_bias:
                weights.append(keras.ops.convert_to_numpy(original.bias))
            stock_conv_layer(target).set_weights(weights)
        elif isinstance(original, keras.Model):
            _copy_weights(original, target)
        else:
            target.set_weights(original.get_weights())
