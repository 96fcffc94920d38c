"""The layer graph the receptive-field rules walk: layer calls with their configs and tensor shapes.

Pure Python: a Keras model becomes a `Graph` in `structconv.shapes.model_graph`, layer specs in
`spec_summary`, so the rules in `axis_maps` and `receptive_field` never need Keras.
"""

import dataclasses

from structconv.errors import invalid_argument


@dataclasses.dataclass(frozen=True)
class Node:
    """One layer call: `inputs` and `output` name tensors; `input_shapes`/`output_shape` have a batch axis."""

    name: str
    class_name: str
    config: dict
    inputs: tuple
    output: object
    input_shapes: tuple
    output_shape: tuple


@dataclasses.dataclass(frozen=True)
class Graph:
    """Layer calls in an order where each reads only model inputs and earlier outputs."""

    inputs: tuple  # tensor names of the model inputs
    input_shapes: tuple
    nodes: tuple
    data_format: str = "channels_last"

    def spatial(self, shape):
        """The spatial sizes of a tensor of `shape`, or `None` when its rank differs from the input's."""
        rank = len(self.input_shapes[0]) - 2
        if len(shape) != rank + 2:
            return None
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def node(self, layer):
        for node in self.nodes:
            if node.name == layer:
                return node
        names = [n.name for n in self.nodes]
        raise invalid_argument("layer", layer, f"the name of a layer of the model: {names}")


def chain_graph(input_shape, layers, data_format=None):
    """The `Graph` of a chain of layers given as `(name, class_name, config, input_shape, output_shape)`."""
    nodes = []
    for index, (name, class_name, config, in_shape, out_shape) in enumerate(layers):
        nodes.append(Node(name, class_name, config, (index,), index + 1, (in_shape,), out_shape))
    if data_format is None:
        data_format = next((c.get("data_format") for _, _, c, _, _ in layers if c.get("data_format")),
                           "channels_last")
    return Graph((0,), (tuple(input_shape),), tuple(nodes), data_format)
