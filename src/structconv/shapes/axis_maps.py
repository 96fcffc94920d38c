"""Per spatial axis, which input positions each output position of a layer reads (pure Python).

Each rule reads the layer's class name and config (the keys Keras's arguments have), so layers written
elsewhere with Keras's argument names are read like Keras's own.
"""

import dataclasses
import math
from fractions import Fraction

from structconv.shapes import arithmetic
from structconv.shapes.layer_config import axis_pairs, kind_of, rank_of, windows

# Layers that act on each position on its own (channels only, or nothing).
ELEMENTWISE = {
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "BatchNormalization", "Rescaling", "Identity", "Masking", "Intensity",
    "PhaseModulation", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
}
RECURRENT = {"SimpleRNN", "LSTM", "GRU"}
# Layers whose output has no spatial axes left: each output depends on every input position.
MIXING = {"Flatten", "Reshape", "Permute", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
          "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"}


@dataclasses.dataclass(frozen=True)
class AxisMap:
    """Which input positions output `i` reads along one axis (see `reads`)."""

    kind: str  # "window", "transpose", "upsample", "linear", "shift", "prefix", "all"
    kernel_size: int = 1
    stride: int = 1
    dilation: int = 1
    offset: int = 0  # window: -padding before; transpose: where the output starts in the full output
    input_size: int = 0
    # Positions outside the input are another tensor's (concatenation), not padding: never read here.
    bounded: bool = False

    def reads(self, i):
        if self.kind == "window":
            return [i * self.stride + self.offset + t * self.dilation for t in range(self.kernel_size)]
        if self.kind == "transpose":
            full = i + self.offset
            return [(full - t * self.dilation) // self.stride for t in range(self.kernel_size)
                    if (full - t * self.dilation) % self.stride == 0]
        if self.kind == "upsample":
            return [i // self.stride]
        if self.kind == "linear":
            # Half-pixel centres, edges clamped (`structconv.ops.resampling`): output i samples the input
            # at (i + 0.5) / s - 0.5, between its floor and the next position (which has weight 0 when
            # the sample falls on a position).
            x = Fraction(2 * i + 1 - self.stride, 2 * self.stride)
            low = math.floor(x)
            found = [low] if x == low else [low, low + 1]
            return sorted({min(max(p, 0), self.input_size - 1) for p in found})
        if self.kind == "shift":
            return [i + self.offset]
        if self.kind == "prefix":
            return list(range(i + 1))
        return list(range(self.input_size))  # "all"

    @property
    def rate(self):
        """How far apart, in input positions, neighbouring outputs are (relative to the input's spacing)."""
        if self.kind == "window":
            return Fraction(self.stride)
        if self.kind in ("transpose", "upsample", "linear"):
            return Fraction(1, self.stride)
        return Fraction(1) if self.kind == "shift" else None


class UnsupportedLayer(Exception):
    """A layer whose receptive field these rules do not know."""


def _channel_axis(graph, shape):
    return len(shape) - 1 if graph.data_format == "channels_last" else 1


def _axis_of(graph, shape, axis):
    """The spatial axis (0-based) a layer's `axis` argument names, or `None` for the channel axis."""
    axis = axis % len(shape)
    if axis == _channel_axis(graph, shape):
        return None
    return axis - 1 if graph.data_format == "channels_last" else axis - 2


def axis_maps(graph, node, which):
    """Per spatial axis, the `AxisMap` from `node`'s output to its input number `which`.

    Returns `None` when the output has no spatial axes (each output sees the whole input); raises
    `UnsupportedLayer` for layers these rules do not know.
    """
    class_name, config = node.class_name, node.config
    out_spatial = graph.spatial(node.output_shape)
    in_spatial = graph.spatial(node.input_shapes[which])
    if class_name in MIXING or out_spatial is None or in_spatial is None:
        # An input without spatial axes already depends on every input position.
        if (in_spatial is None or class_name in MIXING or class_name in RECURRENT
                or class_name in ("Dense", "EinsumDense") or kind_of(class_name, config) == "global_pooling"):
            return None
        raise UnsupportedLayer(class_name)
    kind = kind_of(class_name, config)
    rank = len(in_spatial)
    if kind in ("conv", "depthwise", "separable", "pooling"):
        maps = []
        for n, w in zip(in_spatial, windows(class_name, config, rank_of(class_name, config) or rank)):
            before, _ = arithmetic.resolve_axis_padding(w.padding, n, w.kernel_size, w.stride, w.dilation)
            maps.append(AxisMap("window", w.kernel_size, w.stride, w.dilation, -before, n))
        return tuple(maps)
    if kind == "conv_transpose":
        maps = []
        for n, m, w in zip(in_spatial, out_spatial, windows(class_name, config, rank)):
            start, _ = arithmetic.conv_transpose_crop(n, m, w.kernel_size, w.stride, w.padding, w.dilation)
            maps.append(AxisMap("transpose", w.kernel_size, w.stride, w.dilation, start, n))
        return tuple(maps)
    if kind == "global_pooling":  # keepdims=True: spatial axes of size 1
        return tuple(AxisMap("all", input_size=n) for n in in_spatial)
    if kind == "upsampling":
        interpolation = str(config.get("interpolation", "nearest")).lower()
        if interpolation not in ("nearest", "linear", "bilinear", "trilinear"):
            raise UnsupportedLayer(f"{class_name} with interpolation={config['interpolation']!r}")
        return tuple(AxisMap("upsample" if interpolation == "nearest" else "linear", stride=f, input_size=n)
                     for n, f in zip(in_spatial, arithmetic.normalize_tuple(config["size"], rank, "size")))
    if kind in ("zero_padding", "cropping"):
        key, sign = ("cropping", 1) if kind == "cropping" else ("padding", -1)
        pairs = axis_pairs(config[key], rank, key)
        return tuple(AxisMap("shift", offset=sign * before, input_size=n)
                     for n, (before, _) in zip(in_spatial, pairs))
    identity = [AxisMap("shift", input_size=n) for n in in_spatial]
    if class_name in RECURRENT and len(in_spatial) == 1 and not config.get("go_backwards"):
        return (AxisMap("prefix", input_size=in_spatial[0]),)  # step t has read steps 0 ... t
    if class_name == "MultiHeadAttention":
        # Each query position attends to every key and value position along the attention axes.
        axes = config.get("attention_axes")
        shape = node.input_shapes[which]
        if axes is None:
            axes = range(1, len(shape) - 1)
        axes = axes if isinstance(axes, (list, tuple, range)) else [axes]
        if which > 0:
            for axis in axes:
                spatial_axis = _axis_of(graph, shape, axis)
                if spatial_axis is not None:
                    identity[spatial_axis] = AxisMap("all", input_size=in_spatial[spatial_axis])
        return tuple(identity)
    if class_name == "Concatenate":
        axis = _axis_of(graph, node.output_shape, config.get("axis", -1))
        if axis is not None:
            offset = sum(graph.spatial(shape)[axis] for shape in node.input_shapes[:which])
            identity[axis] = AxisMap("shift", offset=-offset, input_size=in_spatial[axis], bounded=True)
        return tuple(identity)
    if class_name in ("LayerNormalization", "Softmax", "UnitNormalization", "Dense"):
        # They act along their axis (Dense: the last one); a spatial one is mixed whole.
        axes = config.get("axis", -1) if class_name != "Dense" else -1
        for axis in (axes if isinstance(axes, (list, tuple)) else (axes,)):
            spatial_axis = _axis_of(graph, node.output_shape, axis)
            if spatial_axis is not None:
                identity[spatial_axis] = AxisMap("all", input_size=in_spatial[spatial_axis])
        return tuple(identity)
    if class_name in ELEMENTWISE:
        return tuple(identity)
    raise UnsupportedLayer(class_name)
