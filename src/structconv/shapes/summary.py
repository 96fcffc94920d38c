"""`summary`: every layer's output shape with the arithmetic that produced it, kernels and costs.

Conventions, stated in the table's caption too:

- Multiply-adds and FLOPs are counted per example by `structconv.shapes.costs` (see its conventions): a
  convolution costs `output positions x kernel taps x (input channels / groups) x filters` multiply-adds, a
  transposed convolution `input positions x kernel taps x input channels x filters`, a Dense layer
  `positions x inputs x units`. A complex convolution counts 4 real multiply-adds per complex one. Layers
  without a cost rule are listed in `not_counted`, never counted as zero.
- Parameters are counted from the layer's variables, as Keras does: a masked kernel counts only its free
  entries, and a complex parameter counts as 2 reals (its real and imaginary parts).
- Output elements are real numbers per example: a `(real, imag)` pair counts both parts.
"""

import math

from structconv.errors import invalid_argument
from structconv.shapes.layer_rows import add_receptive_fields, fill_row, new_row
from structconv.shapes.table import print_rows


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


def _config(layer):
    try:
        return layer.get_config()
    except NotImplementedError:  # a custom layer without a config: counted as unknown
        return {}


def layer_row(layer, input_shape=None, output_shape=None):
    """The summary row of one built layer, as a dict of plain Python values (see `summary`).

    `input_shape` and `output_shape` (with the batch axis) default to the layer's first call's.
    """
    from structconv.layers import ComplexConvND

    in_shape = _shapes(layer.input) if input_shape is None else input_shape
    out_shape = _shapes(layer.output) if output_shape is None else output_shape
    row = new_row(layer.name, type(layer).__name__, in_shape, out_shape)
    row["trainable_params"] = sum(math.prod(v.shape) for v in layer.trainable_weights)
    row["non_trainable_params"] = sum(math.prod(v.shape) for v in layer.non_trainable_weights)
    row["complex"] = isinstance(layer, ComplexConvND)
    fill_row(row, type(layer).__name__, _config(layer))
    if hasattr(layer, "kernel_shape") and row["kernel_shape"] is not None:
        # A structconv layer: the effective kernel, whatever it is built from.
        data_format = getattr(layer, "data_format", None) or "channels_last"
        channels = _first(in_shape)[-1 if data_format == "channels_last" else 1]
        row["kernel_shape"] = tuple(layer.kernel_shape(channels))
    if getattr(layer, "kernel_parametrization", None) is not None:
        row["free_kernel_entries"] = math.prod(layer.free_kernel.shape)
    if row["complex"]:
        row["kernel_axes"] = (*row["kernel_axes"], "real/imag")
        # A complex multiply-add is 4 real ones (and 8 FLOPs).
        row["multiply_adds"] = None if row["multiply_adds"] is None else 4 * row["multiply_adds"]
        row["flops"] = None if row["flops"] is None else 4 * row["flops"]
    return row


def summary(model_or_layers, input_shape=None, *, print_table=True, receptive_field=False):
    """Explains a model layer by layer: shapes and the arithmetic behind them, kernels, parameters, costs.

    Args:
        model_or_layers: a Keras model, or a layer or list of layers (then `input_shape` is required).
        input_shape: the input shape without the batch axis, e.g. `(28, 28, 1)`. For a model it replaces
            the model's own (a single chain of layers only), e.g. to see a fully convolutional model on a
            given image size.
        print_table: print a table to the terminal (with rich).
        receptive_field: add a column with each layer's receptive field to the printed table.

    Returns:
        A list of dicts, one per layer: `name`, `type`, `input_shape` and `output_shape` (with the batch
        axis; a tuple of shapes for a `(real, imag)` pair), `arithmetic` (one formula per spatial axis),
        `dropped` (input positions no window reads), `explanations` (`(axis name, ConvExplanation)` pairs,
        whose `.diagram()` draws the windows), `kernel_shape`, `kernel_axes`, `free_kernel_entries` (with a
        `kernel_parametrization`: the entries the kernel is computed from, for `Mask` the free ones),
        `trainable_params`, `non_trainable_params`, `output_elements`, `multiply_adds` and `flops` (per
        example; see the module docstring; `None` when a size is unknown or the layer has no cost rule),
        `not_counted` (why a layer's costs are not counted, else `None`), `receptive_field` (per spatial
        axis `size`, `jump` and `start`, see `receptive_field`; `None` when not known) and `complex` (a
        complex layer: its parameters count as 2 reals each, and its multiply-adds as 4 real ones).

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
    >>> rows[1]["receptive_field"]
    {'size': (19, 19), 'jump': (6, 6), 'start': (9, 9)}
    """
    from structconv.shapes.model_graph import keras_graph, traced_graph

    traced = _trace(model_or_layers, input_shape)
    rows = [layer_row(layer, in_shape, out_shape) for layer, in_shape, out_shape in traced]
    try:
        graph = keras_graph(model_or_layers) if input_shape is None else traced_graph(traced, input_shape)
    except (ValueError, TypeError, AttributeError):  # a graph these public APIs cannot read: no fields
        graph = None
    if graph is not None:
        add_receptive_fields(rows, graph)
    if print_table:
        print_rows(rows, title=getattr(model_or_layers, "name", "layers"), receptive_field=receptive_field)
    return rows
