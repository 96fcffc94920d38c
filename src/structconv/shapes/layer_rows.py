"""One row of the shape summary from a layer's class name, config and shapes (pure Python, no Keras).

`summary` fills rows of Keras layers with it (then counts parameters from their variables); the command line
fills rows of layer specs with it without importing Keras (`spec_summary`). The row keys are described in
`structconv.shapes.summary`.
"""

import math

from structconv.errors import invalid_argument
from structconv.shapes.costs import layer_costs
from structconv.shapes.explain import conv_transpose_formula, explain_conv
from structconv.shapes.layer_config import axis_pairs, kind_of, rank_of, spatial_axes, windows

_SPATIAL_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def spatial_names(rank):
    return _SPATIAL_NAMES.get(rank, tuple(f"axis{i}" for i in range(rank)))


def prod(values):
    values = tuple(values)
    return None if any(v is None for v in values) else math.prod(values)


def new_row(name, type_name, input_shape, output_shape):
    """A row with its shapes and nothing counted yet."""
    outputs = output_shape if (output_shape and isinstance(output_shape[0], tuple)) else (output_shape,)
    elements = [prod(shape[1:]) for shape in outputs]
    return {
        "name": name,
        "type": type_name,
        "input_shape": input_shape,
        "output_shape": output_shape,
        "arithmetic": [],
        "dropped": [],
        "explanations": [],
        "kernel_shape": None,
        "kernel_axes": None,
        "free_kernel_entries": None,
        "trainable_params": 0,
        "non_trainable_params": 0,
        "output_elements": None if None in elements else sum(elements),
        "multiply_adds": 0,
        "flops": 0,
        "not_counted": None,
        "receptive_field": None,
        "complex": False,
    }


def _as_list(shape):
    """A shape as a list of shapes (a layer with several inputs, or a `(real, imag)` pair)."""
    return list(shape) if shape and isinstance(shape[0], tuple) else [shape]


def fill_row(row, class_name, config, data_format=None):
    """Adds the per-axis arithmetic, the kernel's shape and axes, and the costs to `row`."""
    inputs, outputs = _as_list(row["input_shape"]), _as_list(row["output_shape"])
    x, y = inputs[0], outputs[0]
    kind = kind_of(class_name, config)
    data_format = config.get("data_format") or data_format or "channels_last"
    if kind in ("conv", "conv_transpose", "depthwise", "separable", "pooling"):
        _window_arithmetic(row, class_name, config, x, data_format)
        if kind != "pooling":
            _kernel(row, kind, config, x, data_format)
    elif kind in ("upsampling", "zero_padding", "cropping"):
        _resize_arithmetic(row, kind, class_name, config, x, data_format)
    elif class_name == "Dense":
        row["kernel_shape"], row["kernel_axes"] = (x[-1], config["units"]), ("in", "out")
        row["arithmetic"] = [f"{x[-1]} inputs -> {config['units']} units"]
    elif class_name == "Flatten":
        row["arithmetic"] = [f"{' * '.join(str(d) for d in x[1:])} = {y[-1]}"]
    try:
        costs = layer_costs(class_name, config, inputs, outputs)
    except (KeyError, TypeError, ValueError):  # a config that only looks like a known layer's
        costs = None
    if costs is None:
        row["multiply_adds"] = row["flops"] = None
        row["not_counted"] = f"no cost rule for {class_name}"
    else:
        row["multiply_adds"], row["flops"] = costs
    return row


def _window_arithmetic(row, class_name, config, in_shape, data_format):
    """Per-axis formulas and dropped inputs of a convolution or pooling layer."""
    spatial_in = tuple(in_shape[i] for i in spatial_axes(in_shape, data_format))
    rank = rank_of(class_name, config) or len(spatial_in)
    names = spatial_names(rank)
    for axis, (n, window) in enumerate(zip(spatial_in, windows(class_name, config, rank))):
        k, s, d, entry = window.kernel_size, window.stride, window.dilation, window.padding
        if n is None:
            row["arithmetic"].append(f"{names[axis]}: size unknown until run")
            continue
        if window.transposed:
            row["arithmetic"].append(
                f"{names[axis]}: {conv_transpose_formula(n, k, s, entry, window.output_padding, d)}"
            )
            continue
        explanation = explain_conv(n, k, s, entry, d)
        if explanation.size == 0:  # the ops and Keras reject this when the layer runs
            raise invalid_argument(
                "input_shape",
                tuple(in_shape),
                f"inputs that layer {row['name']!r} has room for",
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


def _resize_arithmetic(row, kind, class_name, config, in_shape, data_format):
    spatial_in = tuple(in_shape[i] for i in spatial_axes(in_shape, data_format))
    rank = len(spatial_in)
    names = spatial_names(rank)
    if kind == "upsampling":
        sizes = config["size"]
        sizes = (sizes,) * rank if isinstance(sizes, int) else tuple(sizes)
        texts = [f"{n} * {f} = {n * f}" if n is not None else "size unknown until run"
                 for n, f in zip(spatial_in, sizes)]
    else:
        key, sign = ("cropping", "-") if kind == "cropping" else ("padding", "+")
        pairs = axis_pairs(config[key], rank, key)
        texts = []
        for n, (before, after) in zip(spatial_in, pairs):
            if n is None:
                texts.append("size unknown until run")
                continue
            size = n - before - after if sign == "-" else n + before + after
            if size <= 0:
                raise invalid_argument(
                    "input_shape", tuple(in_shape), f"inputs longer than layer {row['name']!r} crops",
                    detail=f"It crops {before} + {after} from {n}.")
            texts.append(f"{n} {sign} {before} {sign} {after} = {size}")
    row["arithmetic"] = [f"{name}: {text}" for name, text in zip(names, texts)]


def _kernel(row, kind, config, in_shape, data_format):
    channels = in_shape[-1] if data_format == "channels_last" else in_shape[1]
    rank = len(in_shape) - 2
    names = spatial_names(rank)
    kernel_size = tuple(w.kernel_size for w in windows(row["type"], config, rank))
    if kind == "conv_transpose":
        row["kernel_shape"] = (*kernel_size, config["filters"], channels)
        row["kernel_axes"] = (*names, "out", "in")
    elif kind == "conv":
        groups = config.get("groups") or 1
        row["kernel_shape"] = (*kernel_size, channels // groups, config["filters"])
        row["kernel_axes"] = (*names, "in" if groups == 1 else "in / groups", "out")
    else:
        multiplier = config.get("depth_multiplier", 1)
        row["kernel_shape"] = (*kernel_size, channels, multiplier)
        row["kernel_axes"] = (*names, "in", "multiplier")
        if kind == "separable":
            pointwise = (*(1,) * rank, channels * multiplier, config["filters"])
            row["kernel_shape"] = (row["kernel_shape"], pointwise)
            row["kernel_axes"] = (row["kernel_axes"], (*("1",) * rank, "in * multiplier", "out"))


def add_receptive_fields(rows, graph):
    """Sets each row's `receptive_field`: per axis `size`, `jump` and `start` (see `receptive_field`), as
    plain numbers (a jump or start between positions as a float), or `None` where it is not known."""
    from structconv.shapes.receptive_field import receptive_fields

    fields = receptive_fields(graph)
    for row in rows:
        field = fields.get(row["name"])
        if field is not None:
            row["receptive_field"] = {
                "size": field.size,
                "jump": tuple(_number(j) for j in field.jump),
                "start": tuple(_number(s) for s in field.start),
            }


def _number(value):
    if value is None or isinstance(value, int):
        return value
    return int(value) if value.denominator == 1 else float(value)
