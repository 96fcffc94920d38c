"""Multiply-adds and FLOPs of a layer, per example, from its class name, config and shapes (pure Python).

Conventions (the summary's caption repeats them):

- A multiply-add is one product summed into an accumulator: the products of inputs with weights (Dense,
  EinsumDense, convolutions, recurrent layers) or of two inputs (attention scores and their weighted sum).
  A convolution counts every tap of every window, taps on padding included (what a direct, dense
  implementation computes); a transposed convolution counts every input element times taps times filters.
- FLOPs are `2 x multiply-adds` plus the other arithmetic the layer does per example: bias additions, pooling
  (`window - 1` comparisons per max, `window - 1` additions and a division per average, windows counted
  whole),
  normalization (batch normalization at inference: one multiply-add per element with the statistics
  folded; layer and group normalization: 5 per element, plus 1 each for scale and shift, the few
  operations per normalized group ignored), softmax in attention (3 per score), the gates of
  recurrent layers and elementwise merges (one per element per extra input). Activation functions, dropout
  and lookups (Embedding) cost nothing here.
- Layers these rules do not know are reported as not counted (`layer_costs` returns `None`), never as zero.
"""

import math
import re

from structconv.shapes.layer_config import kind_of, rank_of, spatial_axes, windows

FREE = {
    "flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "Identity", "InputLayer", "Masking",
    "upsampling", "zero_padding", "cropping", "Concatenate", "Embedding", "Flatten",
}
_MERGES = {"Add": 0, "Subtract": 0, "Multiply": 0, "Maximum": 0, "Minimum": 0, "Average": 1}
_RNN_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
# Elementwise FLOPs per unit and time step besides the products and biases: the sums of the input's and
# the state's products (1 per gate; GRU: 2, its candidate adds `r * (U h)`), LSTM's `c = f c + i g` (3) and
# `h = o tanh(c)` (1), GRU's `r * (U h)` (1) and `h = z h + (1 - z) h'` (4).
_RNN_ELEMENTWISE = {"SimpleRNN": 1, "LSTM": 8, "GRU": 8}


def _prod(values):
    values = tuple(values)
    return None if any(v is None for v in values) else math.prod(values)


def _data_format(config):
    return config.get("data_format") or "channels_last"


def _channels(shape, data_format):
    return shape[-1] if data_format == "channels_last" else shape[1]


def _spatial(shape, data_format):
    return tuple(shape[i] for i in spatial_axes(shape, data_format))


def _times(*values):
    return None if any(v is None for v in values) else math.prod(values)


def layer_costs(class_name, config, input_shapes, output_shapes):
    """`(multiply_adds, flops)` per example, or `None` when this layer is not one these rules count.

    `input_shapes` and `output_shapes` are lists of shapes with the batch axis; a count is `None` when a
    size it needs is unknown.

    >>> layer_costs("Conv2D", {"filters": 32, "kernel_size": 7, "strides": 3, "use_bias": False},
    ...             [(None, 28, 28, 1)], [(None, 8, 8, 32)])
    (100352, 200704)
    >>> layer_costs("Lambda", {}, [(None, 4)], [(None, 4)]) is None
    True
    """
    kind = kind_of(class_name, config)
    x, y = input_shapes[0], output_shapes[0]
    outputs = _prod(y[1:])
    bias = outputs if config.get("use_bias", False) else 0
    if kind in FREE or class_name in FREE:
        return 0, 0
    if kind in ("conv", "conv_transpose", "depthwise", "separable"):
        macs = _window_macs(kind, class_name, config, x, y)
        return macs, _times(2, macs) + bias if macs is not None and bias is not None else None
    if kind in ("pooling", "global_pooling"):
        data_format = _data_format(config)
        if kind == "pooling":
            window = _prod(w.kernel_size for w in windows(class_name, config, rank_of(class_name, config)))
        else:
            window = _prod(_spatial(x, data_format))
        if window is None:
            return 0, None
        return 0, _times(outputs, window - 1 if "Max" in class_name else window)
    if class_name == "Dense":
        macs = _times(_prod(x[1:]), config["units"])
        return macs, _flops(macs, bias)
    if class_name == "EinsumDense":
        macs, outputs = einsum_sizes(config["equation"], x, y)
        return macs, _flops(macs, outputs if config.get("bias_axes") else 0)
    if class_name == "BatchNormalization":
        elements = _prod(x[1:])
        return elements, _times(2, elements)
    if class_name in ("LayerNormalization", "GroupNormalization"):
        # Per element: the mean's sum, centring, the square and its sum, normalizing, scale and shift.
        elements = _prod(x[1:])
        affine = int(bool(config.get("scale", True))) + int(bool(config.get("center", True)))
        return _times(1 + int(bool(config.get("scale", True))), elements), _times(5 + affine, elements)
    if class_name in _MERGES:
        elements = _prod(y[1:])
        return 0, _times(len(input_shapes) - 1 + _MERGES[class_name], elements)
    if class_name in _RNN_GATES:
        return _rnn_costs(class_name, config, x)
    if class_name == "MultiHeadAttention":
        return attention_costs(config, input_shapes, y)
    return None


def _flops(macs, extra):
    return None if macs is None or extra is None else 2 * macs + extra


def _window_macs(kind, class_name, config, x, y):
    data_format = _data_format(config)
    rank = rank_of(class_name, config)
    taps = math.prod(w.kernel_size for w in windows(class_name, config, rank))
    channels = _channels(x, data_format)
    if kind == "conv_transpose":
        return _times(_prod(_spatial(x, data_format)), taps, channels, config["filters"])
    out_positions = _prod(_spatial(y, data_format))
    if kind == "conv":
        groups = config.get("groups") or 1
        per_group = None if channels is None else channels // groups
        return _times(out_positions, taps, per_group, config["filters"])
    depthwise = _times(out_positions, taps, channels, config.get("depth_multiplier", 1))
    if kind == "depthwise":
        return depthwise
    pointwise = _times(out_positions, channels, config.get("depth_multiplier", 1), config["filters"])
    return None if depthwise is None or pointwise is None else depthwise + pointwise


def einsum_sizes(equation, input_shape, output_shape):
    """`(multiply_adds, output_elements)` of `EinsumDense`'s `einsum(equation, input, kernel)` per example:
    the product of the sizes of every index letter (each output entry sums over the contracted letters),
    and of the output's letters. Sizes come from the input first (Keras may leave output sizes unknown).

    >>> einsum_sizes("abc,cd->abd", (None, 5, 3), (None, None, 7))
    (105, 35)
    """
    equation = equation.replace(" ", "")
    match = re.fullmatch(r"([a-zA-Z.]+),([a-zA-Z.]+)->([a-zA-Z.]+)", equation)
    if match is None:
        return None, None
    sizes, output_letters = {}, []
    for letters, shape in ((match.group(1), (1, *input_shape[1:])), (match.group(3), (1, *output_shape[1:]))):
        if "..." in letters:
            before, after = letters.split("...")
            extra = len(shape) - len(before) - len(after)
            letters = before + "".join(f"_{i}" for i in range(extra)) + after
            names = list(before) + [f"_{i}" for i in range(extra)] + list(after)
        else:
            names = list(letters)
        for name, size in zip(names, shape):
            if sizes.get(name) is None:
                sizes[name] = size
        output_letters = names
    kernel = match.group(2).replace("...", "")
    if any(letter not in sizes for letter in kernel):
        return None, None
    return _prod(sizes.values()), _prod(sizes[name] for name in output_letters)


def _rnn_costs(class_name, config, x):
    steps, features, units = x[1], x[-1], config["units"]
    gates = _RNN_GATES[class_name]
    macs = _times(steps, gates * units, None if features is None else features + units)
    biases = gates * units * (2 if class_name == "GRU" and config.get("reset_after", True) else 1)
    biases = biases if config.get("use_bias", True) else 0
    extra = _times(steps, biases + _RNN_ELEMENTWISE[class_name] * units)
    return macs, _flops(macs, extra)


def attention_costs(config, input_shapes, output_shape):
    """Multiply-adds and FLOPs of `MultiHeadAttention(query, value[, key])` per example."""
    query = input_shapes[0]
    value = input_shapes[1] if len(input_shapes) > 1 else query
    key = input_shapes[2] if len(input_shapes) > 2 else value
    heads, key_dim = config["num_heads"], config["key_dim"]
    value_dim = config.get("value_dim") or key_dim
    out_features = output_shape[-1]
    axes = config.get("attention_axes")
    if axes is not None and tuple(sorted(a % len(query) for a in axes)) != tuple(range(1, len(query) - 1)):
        return None  # attention over some axes only: each slice of the other axes attends separately
    targets, sources = _prod(query[1:-1]), _prod(value[1:-1])
    projections = (
        _times(targets, query[-1], heads, key_dim), _times(sources, key[-1], heads, key_dim),
        _times(sources, value[-1], heads, value_dim), _times(targets, heads, value_dim, out_features),
    )
    scores = _times(heads, targets, sources, key_dim)
    mixed = _times(heads, targets, sources, value_dim)
    parts = (*projections, scores, mixed)
    if any(p is None for p in parts):
        return None, None
    macs = sum(parts)
    biases = 0
    if config.get("use_bias", True):
        biases = targets * heads * key_dim + sources * heads * (key_dim + value_dim) + targets * out_features
    # The query is scaled by 1 / sqrt(key_dim); softmax costs an exponential, a sum and a division per score.
    extra = biases + targets * heads * key_dim + 3 * heads * targets * sources
    return macs, 2 * macs + extra
