"""`summary`: every layer's output shape with the arithmetic that produced it, kernels and costs.

Multiply-adds are counted per example, bias and activation excluded: a convolution costs
`output positions x kernel taps x (input channels / groups) x filters`, a transposed convolution
`input positions x kernel taps x input channels x filters`, a Dense layer `positions x inputs x units`.
Parameters are counted from the layer's variables, so a masked kernel counts only its free entries.
"""

import math

from structconv.errors import invalid_argument
from structconv.shapes.explain import explain_conv

_SPATIAL_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _spatial_names(rank):
    return _SPATIAL_NAMES.get(rank, tuple(f"axis{i}" for i in range(rank)))


def _as_model(model_or_layers, input_shape):
    import keras

    if isinstance(model_or_layers, keras.Model):
        if input_shape is not None:
            return keras.Sequential([keras.Input(tuple(input_shape)), *model_or_layers.layers])
        if not getattr(model_or_layers, "inputs", None):
            raise invalid_argument(
                "input_shape", input_shape, "the input shape (without batch) of an unbuilt model"
            )
        return model_or_layers
    if isinstance(model_or_layers, keras.layers.Layer):
        model_or_layers = [model_or_layers]
    if not isinstance(model_or_layers, (list, tuple)) or not model_or_layers:
        raise invalid_argument("model_or_layers", model_or_layers, "a Keras model or a list of layers")
    if input_shape is None:
        raise invalid_argument("input_shape", input_shape, "the input shape without batch, e.g. (28, 28, 1)")
    return keras.Sequential([keras.Input(tuple(input_shape)), *model_or_layers])


def _spatial(shape, data_format):
    return tuple(shape[1:-1]) if data_format == "channels_last" else tuple(shape[2:])


def _channels(shape, data_format):
    return shape[-1] if data_format == "channels_last" else shape[1]


def _padding_entries(layer, rank):
    arguments = getattr(layer, "arguments", None)
    if arguments is not None:  # a structconv layer: per-axis entries
        return arguments.padding
    return (layer.padding,) * rank


def _conv_rows(layer, in_shape, out_shape):
    data_format = getattr(layer, "data_format", "channels_last")
    spatial_in = _spatial(in_shape, data_format)
    rank = len(spatial_in)
    names = _spatial_names(rank)
    kernel_size = tuple(layer.kernel_size)
    transposed = "Transpose" in type(layer).__name__
    arithmetic, dropped = [], []
    for axis, (n, k, s, d, entry) in enumerate(
        zip(spatial_in, kernel_size, layer.strides, layer.dilation_rate, _padding_entries(layer, rank))
    ):
        if n is None:
            arithmetic.append(f"{names[axis]}: unknown size")
            continue
        if transposed:
            out = _spatial(out_shape, data_format)[axis]
            arithmetic.append(f"{names[axis]}: ({n} - 1) * {s} + ({k} - 1) * {d} + 1, cropped to {out}")
            continue
        explanation = explain_conv(n, k, s, entry, d)
        arithmetic.append(f"{names[axis]}: {explanation.formula}")
        if explanation.dropped:
            dropped.append(f"{names[axis]} drops {list(explanation.dropped)}")
    kernel = getattr(layer, "kernel", None)
    kernel_shape = tuple(kernel.shape) if kernel is not None else None
    axes = (*names, "out", "in") if transposed else (*names, "in", "out")
    channels_in = _channels(in_shape, data_format)
    filters = layer.filters
    groups = getattr(layer, "groups", 1) or 1
    positions = math.prod(spatial_in) if transposed else math.prod(_spatial(out_shape, data_format))
    per_position = channels_in * filters if transposed else channels_in // groups * filters
    return arithmetic, dropped, kernel_shape, axes, positions * math.prod(kernel_size) * per_position


def _pool_rows(layer, in_shape):
    data_format = getattr(layer, "data_format", "channels_last")
    spatial_in = _spatial(in_shape, data_format)
    names = _spatial_names(len(spatial_in))
    arithmetic, dropped = [], []
    for axis, (n, k, s) in enumerate(zip(spatial_in, layer.pool_size, layer.strides)):
        if n is None:
            continue
        explanation = explain_conv(n, k, s, layer.padding)
        arithmetic.append(f"{names[axis]}: {explanation.formula}")
        if explanation.dropped:
            dropped.append(f"{names[axis]} drops {list(explanation.dropped)}")
    return arithmetic, dropped


def _count(variables):
    return sum(math.prod(v.shape) for v in variables)


def layer_row(layer):
    """The summary row of one built layer, as a dict of plain Python values."""
    import keras

    in_shape, out_shape = tuple(layer.input.shape), tuple(layer.output.shape)
    row = {
        "name": layer.name,
        "type": type(layer).__name__,
        "input_shape": in_shape,
        "output_shape": out_shape,
        "arithmetic": [],
        "dropped": [],
        "kernel_shape": None,
        "kernel_axes": None,
        "trainable_params": _count(layer.trainable_weights),
        "non_trainable_params": _count(layer.non_trainable_weights),
        "output_elements": math.prod(d for d in out_shape[1:] if d is not None),
        "multiply_adds": 0,
        "complex": bool(getattr(layer, "is_complex", False)),
    }
    if hasattr(layer, "kernel_size") and hasattr(layer, "filters"):
        row["arithmetic"], row["dropped"], row["kernel_shape"], row["kernel_axes"], row["multiply_adds"] = (
            _conv_rows(layer, in_shape, out_shape)
        )
    elif hasattr(layer, "pool_size"):
        row["arithmetic"], row["dropped"] = _pool_rows(layer, in_shape)
    elif isinstance(layer, keras.layers.Dense):
        inputs = in_shape[-1]
        row["kernel_shape"], row["kernel_axes"] = (inputs, layer.units), ("in", "out")
        row["arithmetic"] = [f"{inputs} inputs -> {layer.units} units"]
        row["multiply_adds"] = math.prod(d for d in in_shape[1:-1] if d) * inputs * layer.units
    elif isinstance(layer, keras.layers.Flatten):
        dims = [str(d) for d in in_shape[1:]]
        row["arithmetic"] = [f"{' * '.join(dims)} = {out_shape[-1]}"]
    return row


def summary(model_or_layers, input_shape=None, *, print_table=True):
    """Explains a model layer by layer: shapes and the arithmetic behind them, kernels, parameters, costs.

    Args:
        model_or_layers: a Keras model, or a list of layers (then `input_shape` is required).
        input_shape: the input shape without the batch axis, e.g. `(28, 28, 1)`.
        print_table: print a table to the terminal (with rich).

    Returns:
        A list of dicts, one per layer: `name`, `type`, `input_shape`, `output_shape`, `arithmetic` (one
        formula per spatial axis), `dropped` (input positions no window reads), `kernel_shape`,
        `kernel_axes`, `trainable_params`, `non_trainable_params`, `output_elements`, `multiply_adds`
        (per example; see the module docstring) and `complex` (the layer holds complex parameters as pairs
        of real ones, counted as 2 reals each).

    Example (user story 5):

    >>> import keras
    >>> rows = summary([keras.layers.Conv2D(32, 7, strides=3, use_bias=False),
    ...                 keras.layers.Conv2D(64, 5, strides=2, use_bias=False),
    ...                 keras.layers.Flatten(), keras.layers.Dense(200, use_bias=False)],
    ...                input_shape=(28, 28, 1), print_table=False)
    >>> [row["output_shape"][1:] for row in rows]
    [(8, 8, 32), (2, 2, 64), (256,), (200,)]
    >>> rows[1]["arithmetic"][0], rows[1]["dropped"]
    ('height: floor((8 + 0 + 0 - 5) / 2) + 1 = 2', ['height drops [7]', 'width drops [7]'])
    """
    import keras

    model = _as_model(model_or_layers, input_shape)
    rows = [layer_row(layer) for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if print_table:
        print_rows(rows, title=model.name)
    return rows


def _format_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def print_rows(rows, title="model"):
    """Prints summary rows as a table (rich when installed, plain text otherwise)."""
    header = ["Layer", "Output shape", "Arithmetic", "Kernel (axes)", "Params (train / non)", "Mult-adds"]
    table = []
    for row in rows:
        kernel = ""
        if row["kernel_shape"]:
            kernel = f"{_format_shape(row['kernel_shape'])}\n= {', '.join(row['kernel_axes'])}"
        arithmetic = "\n".join(row["arithmetic"] + row["dropped"])
        params = f"{row['trainable_params']:,} / {row['non_trainable_params']:,}"
        if row["complex"]:
            params += "\n(complex as 2 reals)"
        table.append([f"{row['name']}\n({row['type']})", _format_shape(row["output_shape"]), arithmetic,
                      kernel, params, f"{row['multiply_adds']:,}"])
    total = sum(r["trainable_params"] for r in rows), sum(r["non_trainable_params"] for r in rows)
    caption = (f"trainable {total[0]:,}, non-trainable {total[1]:,}; multiply-adds per example "
               f"{sum(r['multiply_adds'] for r in rows):,} (bias and activation excluded)")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for line in table:
            print(" | ".join(cell.replace("\n", " ") for cell in line))
        print(caption)
        return
    rich_table = Table(*header, title=title, caption=caption, show_lines=True)
    for line in table:
        rich_table.add_row(*line)
    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough that formulas stay on one line
        console = Console(width=140)
    console.print(rich_table)
