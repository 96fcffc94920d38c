"""Summary rows of layer specs from the shape arithmetic alone: `structconv shapes` without a framework.

Importing a deep-learning framework takes seconds; the output shapes, parameters and costs of a chain of
common layers follow from their arguments. `spec_rows` computes them for the layers whose arguments it
knows (`layer_config.SIGNATURES`) and returns `None` for anything else, which then goes through Keras.
Tests check these rows against the rows `summary` computes from the Keras layers.
"""

from structconv.errors import StructconvError, invalid_argument
from structconv.shapes import arithmetic
from structconv.shapes.layer_config import (
    axis_pairs,
    kind_of,
    rank_of,
    snake_case,
    spatial_axes,
    spec_config,
    windows,
)
from structconv.shapes.layer_rows import add_receptive_fields, fill_row, new_row, prod
from structconv.shapes.spec import parse_spec

_NORMALIZATIONS = ("BatchNormalization", "LayerNormalization")


def spec_configs(specs):
    """`(class_name, config)` of each spec, or `None` when one needs Keras."""
    configs = []
    for text in specs:
        class_name, args, kwargs = parse_spec(text)
        config = spec_config(class_name, args, kwargs)
        if config is None:
            return None
        configs.append((class_name, config))
    return configs


def spec_rows(specs, input_shape, *, receptive_field=True):
    """The summary rows of `specs` (texts) on `input_shape` (without batch), or `None` when Keras is needed.

    >>> rows = spec_rows(["Conv2D(32, 7, strides=3)", "Flatten"], (28, 28, 1))
    >>> [row["output_shape"] for row in rows], rows[0]["trainable_params"]
    ([(None, 8, 8, 32), (None, 2048)], 1600)
    >>> spec_rows(["Conv2D(32, 7, kernel_initializer='zeros')"], (28, 28, 1)) is None
    True
    """
    configs = spec_configs(specs)
    if configs is None:
        return None
    shape = (None, *input_shape)
    rows, used = [], {}
    for text, (class_name, config) in zip(specs, configs):
        name = config.get("name") or _unique(snake_case(class_name), used)
        try:
            output_shape, trainable, non_trainable = _propagate(class_name, config, shape)
            row = new_row(name, class_name, shape, output_shape)
            row["trainable_params"], row["non_trainable_params"] = trainable, non_trainable
            if not config.get("trainable", True):
                row["trainable_params"], row["non_trainable_params"] = 0, trainable + non_trainable
            fill_row(row, class_name, config)
        except (StructconvError, TypeError, KeyError, IndexError) as error:
            raise StructconvError(f"Invalid arguments in layer spec {text!r}: {error}") from error
        rows.append(row)
        shape = output_shape
    if receptive_field:
        from structconv.shapes.model_graph import rows_graph

        add_receptive_fields(rows, rows_graph(rows, configs, input_shape))
    return rows


def _unique(base, used):
    count = used.get(base, 0)
    used[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _check_rank(class_name, shape, rank):
    if len(shape) != rank + 2:
        raise invalid_argument(
            "input_shape", shape, f"a tensor with {rank + 2} axes (batch, {rank} spatial, channels) for "
            f"{class_name}")


def _propagate(class_name, config, shape):
    """`(output_shape, trainable, non_trainable)` of a layer on an input of `shape` (with batch axis)."""
    kind = kind_of(class_name, config)
    data_format = config.get("data_format") or "channels_last"
    if kind in ("conv", "conv_transpose", "depthwise", "separable", "pooling", "upsampling", "zero_padding",
                "cropping", "global_pooling"):
        rank = rank_of(class_name, config)
        _check_rank(class_name, shape, rank)
        axes = spatial_axes(shape, data_format)
        channel_axis = len(shape) - 1 if data_format == "channels_last" else 1
        channels = shape[channel_axis]
        spatial = [shape[i] for i in axes]
        if kind == "global_pooling":
            if config.get("keepdims"):
                out = [1] * len(shape)
                out[0], out[channel_axis] = None, channels
                return tuple(out), 0, 0
            return (None, channels), 0, 0
        spatial, channels_out, trainable = _spatial_and_params(kind, class_name, config, spatial, channels)
        out = list(shape)
        for axis, size in zip(axes, spatial):
            out[axis] = size
        out[channel_axis] = channels_out
        return tuple(out), trainable, 0
    if class_name == "Dense":
        units = config["units"]
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise invalid_argument("units", units, "an int >= 1")
        inputs = shape[-1]
        return (*shape[:-1], units), inputs * units + (units if config["use_bias"] else 0), 0
    if class_name == "Flatten":
        return (None, prod(shape[1:])), 0, 0
    if class_name in _NORMALIZATIONS:
        axis = config.get("axis", -1)
        if axis not in (-1, len(shape) - 1):
            raise StructconvError(f"{class_name} over axis {axis!r}")  # shown as an invalid spec
        vectors = int(bool(config.get("center", True))) + int(bool(config.get("scale", True)))
        per_channel = shape[-1] * vectors
        return shape, per_channel, (2 * shape[-1] if class_name == "BatchNormalization" else 0)
    return shape, 0, 0  # the elementwise layers of SIGNATURES


def _spatial_and_params(kind, class_name, config, spatial, channels):
    rank = len(spatial)
    if kind in ("upsampling", "zero_padding", "cropping"):
        if kind == "upsampling":
            sizes = arithmetic.normalize_tuple(config["size"], rank, "size")
            return [None if n is None else n * f for n, f in zip(spatial, sizes)], channels, 0
        key = "cropping" if kind == "cropping" else "padding"
        sign = -1 if kind == "cropping" else 1
        pairs = axis_pairs(config[key], rank, key)
        return [None if n is None else n + sign * (a + b) for n, (a, b) in zip(spatial, pairs)], channels, 0
    axis_windows = windows(class_name, config, rank)
    if kind == "pooling" and any(w.padding not in ("valid", "same") for w in axis_windows):
        raise invalid_argument("padding", config["padding"], "'valid' or 'same'")
    if kind == "conv_transpose":
        sizes = [arithmetic.conv_transpose_output_size(
            n, w.kernel_size, w.stride, w.padding, w.output_padding, w.dilation
        ) for n, w in zip(spatial, axis_windows)]
    else:
        sizes = [arithmetic.conv_output_size(n, w.kernel_size, w.stride, w.padding, w.dilation)
                 for n, w in zip(spatial, axis_windows)]
    if kind == "pooling":
        return sizes, channels, 0
    taps = prod(w.kernel_size for w in axis_windows)
    use_bias = bool(config.get("use_bias", True))
    if kind == "depthwise":
        multiplier = config["depth_multiplier"]
        return sizes, channels * multiplier, taps * channels * multiplier + use_bias * channels * multiplier
    filters = config["filters"]
    if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
        raise invalid_argument("filters", filters, "an int >= 1")
    if kind == "separable":
        multiplier = config["depth_multiplier"]
        weights = taps * channels * multiplier + channels * multiplier * filters
        return sizes, filters, weights + use_bias * filters
    if kind == "conv_transpose":
        return sizes, filters, taps * channels * filters + use_bias * filters
    groups = config.get("groups") or 1
    if channels % groups or filters % groups:
        raise invalid_argument("groups", groups, f"a divisor of the {channels} input channels and of filters")
    return sizes, filters, taps * (channels // groups) * filters + use_bias * filters
