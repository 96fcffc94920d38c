"""Receptive fields: which input positions each output of each layer sees, per spatial axis (pure Python).

A model is a `layer_graph.Graph` of layer calls (class name, config, the tensors read and written, with
their shapes), built from a Keras model by `structconv.shapes.model_graph` or from layer specs. Every layer
acts on each spatial axis on its own, so an output's region is a box whose side along an axis follows from
that axis alone: `axis_maps` says, per axis, which input positions an output position reads, and regions
are propagated backwards through the graph as sets of positions, the union over every path through
branches.

Per layer and axis, `receptive_field` reports the three numbers of the classic analysis (Araujo et al.,
"Computing receptive fields of convolutional neural networks", Distill 2019), computed on an input without
borders (padding ignored):

- `size`: how many consecutive input positions one output's region spans (the largest over outputs when
  upsampling or a transposed convolution makes it vary);
- `jump`: the input distance between neighbouring outputs (a `Fraction` below 1 after upsampling);
- `start`: the input position of the first output's centre (negative when its window starts on padding).

`ReceptiveField.region(position)` is exact instead: the first and last input position, per axis, that the
output at `position` depends on, borders and padding taken into account.
"""

import dataclasses
from fractions import Fraction

from structconv.errors import invalid_argument
from structconv.shapes.axis_maps import UnsupportedLayer, axis_maps
from structconv.shapes.layer_graph import Graph, Node, chain_graph


def _read(maps, positions, clip):
    """Input positions, per axis, that outputs at `positions` (per-axis sets) read."""
    result = []
    for axis_map, axis_positions in zip(maps, positions):
        read = set()
        for i in axis_positions:
            read.update(axis_map.reads(i))
        if clip or axis_map.bounded:
            read = {p for p in read if 0 <= p < axis_map.input_size}
        result.append(read)
    return tuple(result)


def input_positions(graph, layer, position=None, clip=True):
    """Per axis, the set of model-input positions (of the first input) the output at `position` of `layer`
    depends on; `position=None` means every output position."""
    found = tensor_positions(graph, layer, position, clip).get(graph.inputs[0])
    if found == "all":
        return tuple(set(range(n)) for n in graph.spatial(graph.input_shapes[0]))
    return found if found is not None else tuple(set() for _ in graph.spatial(graph.input_shapes[0]))


def tensor_positions(graph, layer, position=None, clip=True):
    """`{tensor: per-axis sets}`: for every tensor the output at `position` of `layer` depends on, the
    positions it depends on (`"all"` for a tensor without spatial axes)."""
    target = graph.node(layer)
    spatial = graph.spatial(target.output_shape)
    if position is None or spatial is None:
        sets = "all" if spatial is None else tuple(set(range(n)) for n in spatial)
    else:
        position = tuple(position)
        if len(position) != len(spatial) or not all(0 <= p < n for p, n in zip(position, spatial)):
            raise invalid_argument("position", position, f"an output position of {layer!r}, inside {spatial}")
        sets = tuple({p} for p in position)
    wanted = {target.output: sets}
    for node in reversed(graph.nodes[:graph.nodes.index(target) + 1]):
        positions = wanted.get(node.output)
        if positions is None:
            continue
        for which, tensor in enumerate(node.inputs):
            in_spatial = graph.spatial(node.input_shapes[which])
            maps = axis_maps(graph, node, which)
            if maps is None or positions == "all":
                read = tuple(set(range(n)) for n in in_spatial) if in_spatial is not None else "all"
            else:
                read = _read(maps, positions, clip)
                if not all(read):  # a box with an empty side is empty: nothing read from this input
                    continue
            previous = wanted.get(tensor)
            if previous is None or previous == "all" or read == "all":
                wanted[tensor] = read if previous is None else "all"
            else:
                wanted[tensor] = tuple(a | b for a, b in zip(previous, read))
    return wanted


@dataclasses.dataclass(frozen=True)
class AxisField:
    """The receptive field of a layer's outputs along one spatial axis (see the module docstring)."""

    size: int
    jump: object  # an int or a Fraction, or None when branches merge at different rates
    start: object  # an int or a half-integer Fraction

    def __str__(self):
        return f"size {self.size}, jump {_text(self.jump)}, start {_text(self.start)}"


def _text(value):
    if value is None:
        return "?"
    if isinstance(value, Fraction) and value.denominator != 1:
        return str(value)
    return str(int(value))


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """Per spatial axis, the receptive field of a layer's outputs, and `region(position)` for one output."""

    layer: str
    axes: tuple
    graph: Graph = dataclasses.field(repr=False, compare=False)

    @property
    def size(self):
        return tuple(axis.size for axis in self.axes)

    @property
    def jump(self):
        return tuple(axis.jump for axis in self.axes)

    @property
    def start(self):
        return tuple(axis.start for axis in self.axes)

    def region(self, position):
        """`((first, last), ...)` per axis: the input positions the output at `position` depends on, borders
        and padding taken into account; `None` when it depends on none (an output computed from padding)."""
        sets = input_positions(self.graph, self.layer, position, clip=True)
        if not all(sets):
            return None
        return tuple((min(s), max(s)) for s in sets)

    def __str__(self):
        return "; ".join(f"axis {i}: {axis}" for i, axis in enumerate(self.axes))


def _jumps(graph):
    """Per tensor, the jump along each axis, from the inputs forwards (`None` where it is not one number:
    after a layer that mixes a whole axis, or where branches at different rates merge)."""
    rank = len(graph.spatial(graph.input_shapes[0]))
    jumps = {tensor: (Fraction(1),) * rank for tensor in graph.inputs}
    for node in graph.nodes:
        found = set()
        for which, tensor in enumerate(node.inputs):
            maps = axis_maps(graph, node, which)
            previous = jumps.get(tensor)
            if maps is None or previous is None:
                found.add(None)
            else:
                found.add(tuple(None if j is None or m.rate is None else j * m.rate
                                for j, m in zip(previous, maps)))
        jumps[node.output] = found.pop() if len(found) == 1 else None
    return jumps


def _period(graph, axis):
    """A number of outputs after which region sizes repeat: the product of the upsampling strides."""
    period = 1
    for node in graph.nodes:
        for which in range(len(node.inputs)):
            try:
                maps = axis_maps(graph, node, which)
            except UnsupportedLayer:
                continue
            if maps is not None and maps[axis].kind in ("transpose", "upsample", "linear"):
                period *= maps[axis].stride
    return period


_NOT_KNOWN = (UnsupportedLayer, KeyError, TypeError, ValueError)


def receptive_fields(graph):
    """`{layer name: ReceptiveField or None}`; `None` for a layer after one these rules do not know."""
    result, unknown = {}, set()
    try:
        jumps = _jumps(graph)
    except _NOT_KNOWN:
        jumps = {}
    for node in graph.nodes:
        if any(tensor in unknown for tensor in node.inputs):
            unknown.add(node.output)
            result[node.name] = None
            continue
        try:
            result[node.name] = receptive_field_of(graph, node, jumps.get(node.output))
        except _NOT_KNOWN:  # a layer without a rule, or a config these rules cannot read
            unknown.add(node.output)
            result[node.name] = None
    return result


def receptive_field_of(graph, node, jump=None):
    """The `ReceptiveField` of one node's outputs (see the module docstring)."""
    spatial = graph.spatial(node.output_shape)
    in_spatial = graph.spatial(graph.input_shapes[0])
    if spatial is None:
        # No spatial axes left: every output sees the whole input (if these rules know the layer).
        for which in range(len(node.inputs)):
            axis_maps(graph, node, which)
        axes = tuple(AxisField(n, None, Fraction(n - 1, 2)) for n in in_spatial)
        return ReceptiveField(node.name, axes, graph)
    jump = jump if isinstance(jump, tuple) else (None,) * len(spatial)
    # On an input without borders, one period of outputs shows every region size there is.
    periods = [min(_period(graph, axis), 64) for axis in range(len(spatial))]
    sizes = [0] * len(spatial)
    first = input_positions(graph, node.name, (0,) * len(spatial), clip=False)
    for axis, period in enumerate(periods):
        for i in range(min(period, spatial[axis])):
            position = [0] * len(spatial)
            position[axis] = i
            found = input_positions(graph, node.name, position, clip=False)[axis]
            if found:
                sizes[axis] = max(sizes[axis], max(found) - min(found) + 1)
    axes = []
    for axis in range(len(spatial)):
        start = Fraction(min(first[axis]) + max(first[axis]), 2) if first[axis] else None
        size = sizes[axis] if sizes[axis] else 0
        axes.append(AxisField(size, _plain(jump[axis]), _plain(start)))
    return ReceptiveField(node.name, tuple(axes), graph)


def _plain(value):
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


__all__ = [
    "AxisField", "Graph", "Node", "ReceptiveField", "chain_graph", "input_positions", "receptive_fields"
]
