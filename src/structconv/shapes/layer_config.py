"""What the shape tools read from a layer: its class name and config, by the argument names Keras uses.

A Keras layer gives its config (`layer.get_config()`); a spec such as `"Conv2D(32, 7, strides=3)"` gives one
too, bound here to the constructor's argument names without importing Keras (`spec_config`). Receptive
fields, costs and the fast command line all read these configs by duck typing on their keys (`kernel_size`,
`pool_size`, `size`, `cropping`, `padding`, `rank`, ...), so layers written elsewhere with Keras's argument
names (structconv's own `MaxPoolingND`, `ZeroPaddingND`, ...) are read like Keras's.
"""

import dataclasses
import json
import os
import re

from structconv.shapes import arithmetic

_CONV = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups")
_TRANSPOSE = (
    "filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate"
)
_POOL = ("pool_size", "strides", "padding", "data_format")
# Positional argument names of the layers the fast path builds rows for, in their constructors' order
# (structconv's convolutions have Keras's positional prefix). `None` ends the prefix the fast path binds.
SIGNATURES = {
    **{f"Conv{r}D": _CONV for r in (1, 2, 3, 4)},
    "ConvND": _CONV,
    **{f"Conv{r}DTranspose": _TRANSPOSE for r in (1, 2, 3, 4)},
    "ConvNDTranspose": _TRANSPOSE,
    **{f"DepthwiseConv{r}D": ("kernel_size", "strides", "padding", "depth_multiplier", "data_format",
                              "dilation_rate") for r in (1, 2)},
    **{f"SeparableConv{r}D": ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                              "depth_multiplier") for r in (1, 2)},
    **{f"{kind}Pooling{r}D": _POOL for kind in ("Max", "Average") for r in (1, 2, 3)},
    **{f"Global{kind}Pooling{r}D": ("data_format", "keepdims") for kind in ("Max", "Average")
       for r in (1, 2, 3)},
    "UpSampling1D": ("size",), "UpSampling2D": ("size", "data_format", "interpolation"),
    "UpSampling3D": ("size", "data_format"),
    **{f"ZeroPadding{r}D": ("padding", "data_format") for r in (1, 2, 3)},
    "Cropping1D": ("cropping",), "Cropping2D": ("cropping", "data_format"),
    "Cropping3D": ("cropping", "data_format"),
    "Dense": ("units", "activation", "use_bias"),
    "Flatten": ("data_format",),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "LayerNormalization": ("axis", "epsilon", "center", "scale"),
    "Activation": ("activation",), "ReLU": ("max_value", "negative_slope", "threshold"),
    "LeakyReLU": ("negative_slope",), "ELU": ("alpha",), "Softmax": ("axis",),
    "Dropout": ("rate", "noise_shape", "seed"),
    **{f"SpatialDropout{r}D": ("rate", "data_format", "seed") for r in (1, 2, 3)},
    "GaussianNoise": ("stddev", "seed"), "GaussianDropout": ("rate", "seed"), "Identity": (),
}
_DEFAULTS = {
    "strides": 1, "padding": "valid", "data_format": None, "dilation_rate": 1, "groups": 1, "use_bias": True,
    "output_padding": None, "depth_multiplier": 1, "interpolation": "nearest", "keepdims": False,
    "axis": -1, "center": True, "scale": True, "activation": None,
}
_DEFAULT_SIZES = {"UpSampling": 2, "ZeroPadding": 1, "MaxPooling": 2}
_REQUIRED = {"filters", "kernel_size", "units", "pool_size", "rate", "stddev", "activation"}
# Arguments that change no shape, parameter count or cost; any other argument sends a spec to Keras.
_NEUTRAL = {"name", "activation", "momentum", "epsilon", "rate", "seed", "noise_shape", "stddev", "alpha",
            "max_value", "negative_slope", "threshold", "algorithm", "padding_mode", "trainable", "rank"}
ACTIVATIONS = {
    None, "linear", "relu", "relu6", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "softsign",
    "swish", "silu", "gelu", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu",
    "log_softmax", "mish", "celu", "hard_tanh", "log_sigmoid",
}


def snake_case(class_name):
    """Keras's default layer name for a class: `"MaxPooling2D"` -> `"max_pooling2d"`.

    >>> snake_case("UpSampling2D"), snake_case("ConvND")
    ('up_sampling2d', 'conv_nd')
    """
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def default_data_format():
    """Keras's `image_data_format()` as its config file sets it, read without importing Keras."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as file:
            value = json.load(file).get("image_data_format", "channels_last")
    except (OSError, ValueError, AttributeError):
        return "channels_last"
    return value if value in arithmetic.DATA_FORMATS else "channels_last"


def spec_config(class_name, args, kwargs):
    """The config of a spec's layer, or `None` when only Keras can tell (an unknown layer or argument).

    >>> spec_config("Conv2D", [32, 7], {"strides": 3})["strides"]
    3
    >>> spec_config("Conv2D", [32, 7], {"kernel_initializer": "zeros"}) is None
    True
    """
    names = SIGNATURES.get(class_name)
    if names is None or len(args) > len(names):
        return None
    config = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in config or (key not in names and key not in _NEUTRAL and key != "use_bias"):
            return None
        config[key] = value
    if config.get("activation") not in ACTIVATIONS and class_name != "Activation":
        return None
    if class_name == "Activation" and config.get("activation") not in ACTIVATIONS - {None}:
        return None
    if "pool_size" in names:
        config.setdefault("strides", None)  # the pool size
    if "kernel_size" in names or "units" in names:
        config.setdefault("use_bias", True)
    for key in names:
        if key not in config and key in _DEFAULTS:
            config[key] = _DEFAULTS[key]
    for prefix, size in _DEFAULT_SIZES.items():
        if class_name.startswith(prefix):
            key = "size" if prefix == "UpSampling" else "padding" if prefix == "ZeroPadding" else "pool_size"
            config.setdefault(key, size)
    if class_name.startswith("Cropping"):
        config.setdefault("cropping", 1 if class_name == "Cropping1D" else 0)
    if class_name.endswith("Normalization") and config.get("axis", -1) != -1:
        return None
    if any(key in names and key not in config for key in _REQUIRED):
        return None  # Keras says what is missing
    if "data_format" in names and config.get("data_format") is None:
        config["data_format"] = default_data_format()
    if class_name.startswith("SpatialDropout") or class_name in ("Softmax", "Dropout"):
        config.pop("data_format", None)
    config.setdefault("trainable", True)
    return config


def rank_of(class_name, config):
    """The number of spatial axes a layer works on: from `rank`, the class name or a tuple `kernel_size`."""
    if isinstance(config.get("rank"), int):
        return config["rank"]
    match = re.search(r"(\d)D", class_name)
    if match:
        return int(match.group(1))
    for key in ("kernel_size", "pool_size", "size", "cropping"):
        if isinstance(config.get(key), (tuple, list)):
            return len(config[key])
    return None


def kind_of(class_name, config):
    """The family a layer belongs to for the shape tools, read from its class name and config keys."""
    if "kernel_size" in config:
        if "Transpose" in class_name or config.get("transposed"):
            return "conv_transpose"
        if "depth_multiplier" in config:
            return "separable" if "filters" in config else "depthwise"
        return "conv"
    if "pool_size" in config:
        return "pooling"
    if class_name.startswith("Global") and "Pooling" in class_name:
        return "global_pooling"
    if "UpSampling" in class_name and "size" in config:
        return "upsampling"
    if "cropping" in config:
        return "cropping"
    if "Padding" in class_name and "padding" in config:
        return "zero_padding"
    return class_name


@dataclasses.dataclass(frozen=True)
class Window:
    """The sliding window of a convolution or pooling layer along one spatial axis."""

    kernel_size: int
    stride: int
    dilation: int
    padding: object  # an entry of `arithmetic.normalize_padding`: a name or a (before, after) pair
    transposed: bool = False
    output_padding: object = None


def windows(class_name, config, rank):
    """The per-axis `Window`s of a convolution or pooling layer's config."""
    kernel = config.get("kernel_size", config.get("pool_size"))
    name = "kernel_size" if "kernel_size" in config else "pool_size"
    kernel = arithmetic.normalize_tuple(kernel, rank, name)
    strides = config.get("strides")
    strides = kernel if strides is None else arithmetic.normalize_tuple(strides, rank, "strides")
    dilation = arithmetic.normalize_tuple(config.get("dilation_rate", 1), rank, "dilation_rate")
    padding = config.get("padding", "valid")
    if isinstance(padding, list):
        padding = tuple(tuple(p) if isinstance(p, list) else p for p in padding)
    padding = arithmetic.normalize_padding(padding, rank)
    transposed = kind_of(class_name, config) == "conv_transpose"
    output_padding = (None,) * rank
    if transposed:
        output_padding = arithmetic.validate_output_padding(config.get("output_padding"), strides, rank)
    return tuple(Window(*values, transposed, op) for *values, op in zip(
        kernel, strides, dilation, padding, output_padding))


def axis_pairs(value, rank, name):
    """`(before, after)` per spatial axis from a ZeroPadding/Cropping argument (an int, pairs or mixed)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return ((value, value),) * rank
    if rank == 1 and isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, int) for v in value):
        return (tuple(value),)
    if isinstance(value, (tuple, list)) and len(value) == rank:
        pairs = []
        for entry in value:
            if isinstance(entry, int) and not isinstance(entry, bool):
                pairs.append((entry, entry))
            elif isinstance(entry, (tuple, list)) and len(entry) == 2:
                pairs.append(tuple(entry))
            else:
                break
        else:
            if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for p in pairs for v in p):
                return tuple(pairs)
    raise arithmetic.invalid_argument(
        name, value, f"an int >= 0, or {rank} such ints or (before, after) pairs, one per spatial axis")


def spatial_axes(shape, data_format):
    """The positions of the spatial axes in a shape with batch axis."""
    rank = len(shape) - 2
    return tuple(range(1, rank + 1)) if data_format == "channels_last" else tuple(range(2, rank + 2))
