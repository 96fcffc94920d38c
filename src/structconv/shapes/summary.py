"""`summary`: every layer's output shape with the arithmetic that produced it, kernels and costs.

Conventions, stated in the table's caption too:

- Multiply-adds are counted per example, bias, activation, normalization and pooling excluded: a
  convolution costs `output positions x kernel taps x (input channels / groups) x filters`, a transposed
  convolution `input positions x kernel taps x input channels x filters`, a Dense layer
  `positions x inputs x units`. A complex convolution counts 4 real multiply-adds per complex one.
- Parameters are counted from the layer's variables, as Keras does: a masked kernel counts only its free
  entries, and a complex parameter counts as 2 reals (its real and imaginary parts).
- Output elements are real numbers per example: a `(real, imag)` pair counts both parts.
"""

import math

from structconv.errors import invalid_argument
from structconv.shapes.explain import conv_transpose_formula, explain_conv
from structconv.shapes.table import print_rows

_SPATIAL_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _spatial_names(rank):
    return _SPATIAL_NAMES.get(rank, tuple(f"axis{i}" for i in range(rank)))


def _chain(model):
    """The layers of `model` if they form a single chain (each reads the previous one's output), else None."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        return layers
    try:
        for previous, layer in zip(layers, layers[1:]):
            if layer.input is not previous.output:
                return None
        if layers and layers[0].input is not model.inputs[0]:
            return None
    except (AttributeError, ValueError):
        return None
    return layers


def _symbolic(shape):
    import keras

    return keras.KerasTensor((None, *shape))


def _shapes(tensors):
    """A tensor's shape, or a tuple of shapes for a tuple/list of tensors (a `(real, imag)` pair)."""
    if isinstance(tensors, (tuple, list)):
        return tuple(tuple(t.shape) for t in tensors)
    return tuple(tensors.shape)


def _trace(model_or_layers, input_shape):
    """`(layer, input_shape, output_shape)` for every layer, shapes with the batch axis."""
    import keras

    if isinstance(model_or_layers, keras.layers.Layer) and not isinstance(model_or_layers, keras.Model):
        model_or_layers = [model_or_layers]
    if isinstance(model_or_layers, keras.Model):
        model = model_or_layers
        layers = _chain(model)
        if input_shape is None:
            if getattr(model, "inputs", None):
                return [(layer, _shapes(layer.input), _shapes(layer.output)) for layer in model.layers
                        if not isinstance(layer, keras.layers.InputLayer)]
            raise invalid_argument(
                "input_shape", input_shape, "the input shape (without batch) of a model that has no Input"
            )
        if layers is None:
            raise invalid_argument(
                "input_shape", input_shape,
                "None for a model that is not a single chain of layers (its own input shapes are used)",
            )
    elif isinstance(model_or_layers, (list, tuple)) and model_or_layers and all(
        isinstance(layer, keras.layers.Layer) for layer in model_or_layers
    ):
        layers = list(model_or_layers)
        if input_shape is None:
            raise invalid_argument(
                "input_shape", input_shape, "the input shape without batch, e.g. (28, 28, 1)"
            )
    else:
        raise invalid_argument(
            "model_or_layers", model_or_layers, "a Keras model, a Keras layer or a non-empty list of layers"
        )
    if isinstance(input_shape, int) or not isinstance(input_shape, (tuple, list)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in input_shape
    ):
        raise invalid_argument(
            "input_shape", input_shape, "a tuple of sizes > 0 (or None) without batch axis, e.g. (28, 28, 1)"
        )
    # Fresh symbolic tensors, not `layer.input`: a layer already called elsewhere keeps its first shapes.
    x = _symbolic(tuple(input_shape))
    traced = []
    for layer in layers:
        y = layer(x)
        traced.append((layer, _shapes(x), _shapes(y)))
        x = y
    return traced


def _first(shape):
    """The shape of the real part when `shape` is a pair of shapes."""
    return shape[0] if shape and isinstance(shape[0], tuple) else shape


def _spatial(shape, data_format):
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def _channels(shape, data_format):
    return shape[-1] if data_format == "channels_last" else shape[1]


def _prod(values):
    values = tuple(values)
    return None if any(v is None for v in values) else math.prod(values)


def _padding_entries(layer, rank):
    arguments = getattr(layer, "arguments", None)
    if arguments is not None:  # a structconv layer: per-axis entries
        return arguments.padding
    return (layer.padding,) * rank


def _window_arithmetic(layer, in_shape, out_shape, row):
    """Per-axis formulas and dropped inputs of a convolution or pooling layer."""
    data_format = getattr(layer, "data_format", None) or "channels_last"
    spatial_in, spatial_out = _spatial(in_shape, data_format), _spatial(out_shape, data_format)
    rank = len(spatial_in)
    names = _spatial_names(rank)
    kernel_size = tuple(getattr(layer, "kernel_size", None) or layer.pool_size)
    dilation = tuple(getattr(layer, "dilation_rate", None) or (1,) * rank)
    transposed = _is_transposed(layer)
    output_padding = getattr(layer, "output_padding", None)
    if output_padding is None or isinstance(output_padding, int):
        output_padding = (output_padding,) * rank
    arguments = getattr(layer, "arguments", None)
    if arguments is not None and transposed:
        output_padding = arguments.output_padding
    for axis, (n, k, s, d, entry) in enumerate(
        zip(spatial_in, kernel_size, layer.strides, dilation, _padding_entries(layer, rank))
    ):
        if n is None:
            row["arithmetic"].append(f"{names[axis]}: size unknown until run")
            continue
        if transposed:
            row["arithmetic"].append(
                f"{names[axis]}: {conv_transpose_formula(n, k, s, entry, output_padding[axis], d)}"
            )
            continue
        explanation = explain_conv(n, k, s, entry, d)
        if explanation.size == 0:  # the ops and Keras reject this when the layer runs
            raise invalid_argument(
                "input_shape",
                tuple(in_shape),
                f"inputs that layer {layer.name!r} has room for",
                detail=f"Along {names[axis]}, its window spans {explanation.extent} inputs, more than the "
                f"padded input holds: {explanation.formula}.",
            )
        row["explanations"].append((names[axis], explanation))
        text = f"{names[axis]}: {explanation.formula}"
        if explanation.pad_before or explanation.pad_after:
            text += f" (pads {explanation.pad_before} before, {explanation.pad_after} after)"
        row["arithmetic"].append(text)
        if explanation.dropped:
            row["dropped"].append(f"{names[axis]} drops inputs {list(explanation.dropped)}")
    return data_format, spatial_in, spatial_out, names


def _is_transposed(layer):
    return bool(getattr(layer, "transposed", False)) or "Transpose" in type(layer).__name__


def _conv_row(layer, in_shape, out_shape, row):
    data_format, spatial_in, spatial_out, names = _window_arithmetic(layer, in_shape, out_shape, row)
    transposed = _is_transposed(layer)
    channels = _channels(in_shape, data_format)
    groups = getattr(layer, "groups", 1) or 1
    taps = math.prod(layer.kernel_size)
    if hasattr(layer, "kernel_shape"):  # a structconv layer: the effective kernel, whatever it is built from
        row["kernel_shape"] = tuple(layer.kernel_shape(channels))
    else:
        row["kernel_shape"] = tuple(layer.kernel.shape)
    inputs = "in" if groups == 1 else "in / groups"
    row["kernel_axes"] = (*names, "out", "in") if transposed else (*names, inputs, "out")
    if getattr(layer, "kernel_parametrization", None) is not None:
        row["free_kernel_entries"] = math.prod(layer.free_kernel.shape)
    if row["complex"]:
        row["kernel_axes"] = (*row["kernel_axes"], "real/imag")
    if transposed:
        macs = _prod((*spatial_in, taps, channels, layer.filters))
    else:
        macs = _prod((*spatial_out, taps, channels // groups if channels else None, layer.filters))
    row["multiply_adds"] = macs * 4 if (macs is not None and row["complex"]) else macs


def _depthwise_row(layer, in_shape, out_shape, row, separable):
    data_format, _, spatial_out, names = _window_arithmetic(layer, in_shape, out_shape, row)
    channels = _channels(in_shape, data_format)
    multiplier = layer.depth_multiplier
    kernel = layer.depthwise_kernel if separable else layer.kernel
    row["kernel_shape"] = tuple(kernel.shape)
    row["kernel_axes"] = (*names, "in", "multiplier")
    macs = _prod((*spatial_out, math.prod(layer.kernel_size), channels, multiplier))
    if separable and macs is not None:
        row["kernel_shape"] = (row["kernel_shape"], tuple(layer.pointwise_kernel.shape))
        row["kernel_axes"] = (row["kernel_axes"], (*("1",) * len(names), "in * multiplier", "out"))
        macs += math.prod(spatial_out) * channels * multiplier * layer.filters
    row["multiply_adds"] = macs


def layer_row(layer, input_shape=None, output_shape=None):
    """The summary row of one built layer, as a dict of plain Python values (see `summary`).

    `input_shape` and `output_shape` (with the batch axis) default to the layer's first call's.
    """
    import keras

    from structconv.layers import ComplexConvND

    in_shape = _shapes(layer.input) if input_shape is None else input_shape
    out_shape = _shapes(layer.output) if output_shape is None else output_shape
    outputs = out_shape if (out_shape and isinstance(out_shape[0], tuple)) else (out_shape,)
    elements = [_prod(shape[1:]) for shape in outputs]
    row = {
        "name": layer.name,
        "type": type(layer).__name__,
        "input_shape": in_shape,
        "output_shape": out_shape,
        "arithmetic": [],
        "dropped": [],
        "explanations": [],
        "kernel_shape": None,
        "kernel_axes": None,
        "free_kernel_entries": None,
        "trainable_params": sum(math.prod(v.shape) for v in layer.trainable_weights),
        "non_trainable_params": sum(math.prod(v.shape) for v in layer.non_trainable_weights),
        "output_elements": None if None in elements else sum(elements),
        "multiply_adds": 0,
        "complex": isinstance(layer, ComplexConvND),
    }
    in_shape, out_shape = _first(in_shape), _first(out_shape)
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        _depthwise_row(layer, in_shape, out_shape, row, separable=True)
    elif isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        _depthwise_row(layer, in_shape, out_shape, row, separable=False)
    elif hasattr(layer, "kernel_size") and hasattr(layer, "filters"):
        _conv_row(layer, in_shape, out_shape, row)
    elif hasattr(layer, "pool_size") and hasattr(layer, "strides"):
        _window_arithmetic(layer, in_shape, out_shape, row)
    elif isinstance(layer, keras.layers.Dense):
        inputs = in_shape[-1]
        row["kernel_shape"], row["kernel_axes"] = tuple(layer.kernel.shape), ("in", "out")
        row["arithmetic"] = [f"{inputs} inputs -> {layer.units} units"]
        macs = _prod((*in_shape[1:-1], inputs, layer.units))
        row["multiply_adds"] = macs
    elif isinstance(layer, keras.layers.Flatten):
        dims = [str(d) for d in in_shape[1:]]
        row["arithmetic"] = [f"{' * '.join(dims)} = {out_shape[-1]}"]
    return row


def summary(model_or_layers, input_shape=None, *, print_table=True):
    """Explains a model layer by layer: shapes and the arithmetic behind them, kernels, parameters, costs.

    Args:
        model_or_layers: a Keras model, or a layer or list of layers (then `input_shape` is required).
        input_shape: the input shape without the batch axis, e.g. `(28, 28, 1)`. For a model it replaces
            the model's own (a single chain of layers only), e.g. to see a fully convolutional model on a
            given image size.
        print_table: print a table to the terminal (with rich).

    Returns:
        A list of dicts, one per layer: `name`, `type`, `input_shape` and `output_shape` (with the batch
        axis; a tuple of shapes for a `(real, imag)` pair), `arithmetic` (one formula per spatial axis),
        `dropped` (input positions no window reads), `explanations` (`(axis name, ConvExplanation)` pairs,
        whose `.diagram()` draws the windows), `kernel_shape`, `kernel_axes`, `free_kernel_entries` (with a
        `kernel_parametrization`: the entries the kernel is computed from, for `Mask` the free ones),
        `trainable_params`, `non_trainable_params`, `output_elements`, `multiply_adds` (per example; see
        the module docstring; `None` when a size is unknown) and `complex` (a complex layer: its parameters
        count as 2 reals each, and its multiply-adds as 4 real ones).

    Example (user story 5):

    >>> import keras
    >>> rows = summary([keras.layers.Conv2D(32, 7, strides=3, use_bias=False),
    ...                 keras.layers.Conv2D(64, 5, strides=2, use_bias=False),
    ...                 keras.layers.Flatten(), keras.layers.Dense(200, use_bias=False)],
    ...                input_shape=(28, 28, 1), print_table=False)
    >>> [row["output_shape"][1:] for row in rows]
    [(8, 8, 32), (2, 2, 64), (256,), (200,)]
    >>> rows[1]["arithmetic"][0], rows[1]["dropped"]
    ('height: floor((8 + 0 + 0 - 5) / 2) + 1 = 2', ['height drops inputs [7]', 'width drops inputs [7]'])
    >>> rows[0]["kernel_shape"], rows[0]["kernel_axes"]
    ((7, 7, 1, 32), ('height', 'width', 'in', 'out'))
    """
    traced = _trace(model_or_layers, input_shape)
    rows = [layer_row(layer, in_shape, out_shape) for layer, in_shape, out_shape in traced]
    if print_table:
        print_rows(rows, title=getattr(model_or_layers, "name", "layers"))
    return rows
