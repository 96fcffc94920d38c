"""`fully_convolutional`: a classifier whose Dense head becomes convolutions, to slide over larger inputs."""

from structconv.errors import invalid_argument
from structconv.shapes.dense_conv import dense_to_conv


def _model_data_format(layers):
    import keras

    for layer in layers:
        data_format = getattr(layer, "data_format", None)
        if data_format in ("channels_last", "channels_first") and not isinstance(layer, keras.layers.Flatten):
            return data_format
    return keras.config.image_data_format()


def _map_shape(shape, data_format):
    """One example's shape `(*spatial, C)` from a batch shape in `data_format`."""
    if data_format == "channels_last":
        return tuple(shape[1:])
    return (*shape[2:], shape[1])


def _copy(layer, **changes):
    return layer.__class__.from_config({**layer.get_config(), **changes})


def fully_convolutional(model):
    """Returns a model in which the classifier head works on maps: `Flatten -> Dense` becomes a convolution
    with the flattened map's size as kernel, later `Dense` layers become 1x1 convolutions, and
    `GlobalAveragePoolingND` / `GlobalMaxPoolingND` followed by `Dense` become a stride-1 pooling of the
    training map's size and 1x1 convolutions. Weights are reordered for the data format.

    On inputs of the training size the new model gives the same values, with shape `(batch, 1, ..., 1,
    units)`; on larger inputs it slides and returns a map of class scores.

    Args:
        model: a built `Sequential` or functional model that is a single chain of layers.

    Returns:
        A new functional model with spatial input sizes `None`.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(3)])
    >>> fcn = fully_convolutional(model)
    >>> x = np.random.rand(2, 8, 8, 1).astype("float32")
    >>> bool(np.allclose(fcn.predict(x, verbose=0)[:, 0, 0], model.predict(x, verbose=0), atol=1e-5))
    True
    >>> fcn.predict(np.zeros((1, 12, 12, 1), "float32"), verbose=0).shape
    (1, 5, 5, 3)
    """
    import keras

    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None) or len(model.inputs) != 1:
        raise invalid_argument("model", model, "a built Sequential or functional model with one input")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for previous, layer in zip(layers, layers[1:]):
        if layer.input is not previous.output:
            raise invalid_argument(
                "model", model.name, "a single chain of layers", detail=f"Layer {layer.name!r} branches."
            )
    data_format = _model_data_format(layers)
    input_shape = tuple(model.inputs[0].shape)
    rank = len(input_shape) - 2
    channels = input_shape[-1] if data_format == "channels_last" else input_shape[1]
    new_shape = (*(None,) * rank, channels) if data_format == "channels_last" else (channels, *(None,) * rank)
    inputs = keras.Input(new_shape, dtype=model.inputs[0].dtype)
    x = inputs
    head_map = None  # the map shape the head's first Dense sees, once a Flatten or global pooling passed
    for layer in layers:
        if isinstance(layer, keras.layers.Flatten):
            head_map = _known_map_shape(layer, data_format, model)
            if data_format == "channels_last" and layer.data_format == "channels_first":
                raise invalid_argument(
                    "model", model.name, "Flatten layers whose data_format matches the model's",
                    detail=f"{layer.name!r} is channels_first on a channels_last map.",
                )
            # Flatten(data_format="channels_first") moves the channels last before flattening.
            order = (
                "channels_first"
                if data_format == "channels_first" and layer.data_format == "channels_last"
                else "channels_last"
            )
            head_order = order
            continue
        pooling = _global_pooling(layer, rank)
        if pooling is not None:
            if getattr(layer, "keepdims", False):
                raise invalid_argument(
                    "model", model.name, "global pooling layers with keepdims=False",
                    detail=f"{layer.name!r} keeps its axes.",
                )
            spatial = _known_map_shape(layer, data_format, model)[:-1]
            x = pooling(pool_size=spatial, strides=1, data_format=data_format, name=layer.name)(x)
            channels = _map_shape(layer.input.shape, data_format)[-1]
            head_map, head_order = (*(1,) * rank, channels), "channels_last"
            continue
        if isinstance(layer, keras.layers.Dense):
            if head_map is None:
                raise invalid_argument(
                    "model", model.name, "Dense layers only after Flatten or global pooling",
                    detail=f"Layer {layer.name!r} acts on a map.",
                )
            conv = dense_to_conv(layer, head_map, head_order, data_format)
            x = conv(x)
            head_map, head_order = (*(1,) * rank, layer.units), "channels_last"
            continue
        changes = {}
        if head_map is not None and _check_head_layer(layer, data_format, model):
            # On the flat features axis 1 was the last axis; on the map it is the channels, axis -1.
            changes["axis"] = -1
        clone = _copy(layer, **changes)
        x = clone(x)
        if layer.weights:
            clone.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=f"{model.name}_fully_convolutional")


def _known_map_shape(layer, data_format, model):
    shape = _map_shape(layer.input.shape, data_format)
    if None in shape:
        raise invalid_argument(
            "model", model.name, "a model whose map before its head has a known size",
            detail=f"{layer.name!r} receives {tuple(layer.input.shape)}.",
        )
    return shape


# Layers that act on each feature alone (or not at all in inference) mean the same on a map of features
# in the channel axis, so they may sit between the head's Dense layers.
_ELEMENTWISE = ("Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "Activation", "ReLU",
                "LeakyReLU", "ELU")
# Layers over the last axis: right on channels_last maps only.
_LAST_AXIS = ("Softmax", "BatchNormalization", "LayerNormalization")


def _check_head_layer(layer, data_format, model):
    """Raises unless `layer` means the same after the head turns into convolutions; returns whether its
    `axis` must become -1."""
    name = type(layer).__name__
    softmax = name == "Activation" and getattr(layer.activation, "__name__", "") == "softmax"
    if name in _ELEMENTWISE and not softmax:
        return False
    if softmax and data_format == "channels_last":
        return False
    if name in _LAST_AXIS and data_format == "channels_last":
        axis = layer.axis
        if axis in (-1, 1, [-1], [1], (-1,), (1,)):
            return True
    raise invalid_argument(
        "model", model.name,
        f"a head of Dense layers with only {', '.join(_ELEMENTWISE)} (and, channels_last, "
        f"{', '.join(_LAST_AXIS)} over the last axis) between them",
        detail=f"Layer {layer.name!r} ({name}) would not mean the same on a map.",
    )


def _global_pooling(layer, rank):
    import keras

    layers = keras.layers
    average = (layers.GlobalAveragePooling1D, layers.GlobalAveragePooling2D, layers.GlobalAveragePooling3D)
    maximum = (layers.GlobalMaxPooling1D, layers.GlobalMaxPooling2D, layers.GlobalMaxPooling3D)
    if isinstance(layer, average):
        return (layers.AveragePooling1D, layers.AveragePooling2D, layers.AveragePooling3D)[rank - 1]
    if isinstance(layer, maximum):
        return (layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D)[rank - 1]
    return None
