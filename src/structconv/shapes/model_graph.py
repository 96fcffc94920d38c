"""`receptive_field(model, layer)`: the receptive-field `Graph` of a Keras model, layers or layer specs.

A Keras model's layers are read through public APIs only (`layer.input`, `layer.output`, `get_config()`);
a layer called more than once counts with its first call. Layer specs (`"Conv2D(32, 7, strides=3)"`) need no
framework when the command line's shape arithmetic knows their layers.
"""

from structconv.errors import StructconvError, invalid_argument
from structconv.shapes.layer_graph import Graph, Node, chain_graph
from structconv.shapes.receptive_field import receptive_fields


def _flat(tensors):
    return list(tensors) if isinstance(tensors, (tuple, list)) else [tensors]


def _shape(tensor):
    return tuple(tensor.shape)


def _shapes(tensors):
    return tuple(_shape(t) for t in tensors) if isinstance(tensors, (tuple, list)) else _shape(tensors)


def keras_graph(model):
    """The `Graph` of a built Keras model (functional or Sequential with an `Input`)."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):  # a chain; a loaded one's layers need not read `model.inputs`
        chain = [(layer.name, type(layer).__name__, _config(layer), _first(_shapes(layer.input)),
                  _first(_shapes(layer.output))) for layer in layers]
        return chain_graph(chain[0][3], chain)
    owner = {}  # id of every output tensor -> the id of its layer's first output (a (real, imag) pair)
    for tensor in _flat(model.inputs):
        owner[id(tensor)] = id(tensor)
    calls = []
    for layer in layers:
        outputs = _flat(layer.output)
        for tensor in outputs:
            owner[id(tensor)] = id(outputs[0])
        inputs = _flat(layer.input)
        calls.append((layer, inputs, outputs))
    nodes, done = [], {id(t) for t in _flat(model.inputs)}
    pending = calls
    while pending:  # order the calls so that each reads only inputs and earlier outputs
        waiting = []
        for layer, inputs, outputs in pending:
            if all(owner.get(id(t)) in done for t in inputs):
                config = _config(layer)
                nodes.append(Node(layer.name, type(layer).__name__, config,
                                  tuple(owner[id(t)] for t in inputs), id(outputs[0]),
                                  tuple(_shape(t) for t in inputs), _shape(outputs[0])))
                done.add(id(outputs[0]))
            else:
                waiting.append((layer, inputs, outputs))
        if len(waiting) == len(pending):
            raise invalid_argument("model", model.name, "layers that read model inputs and layers")
        pending = waiting
    data_format = next((n.config.get("data_format") for n in nodes if n.config.get("data_format")),
                       "channels_last")
    inputs = tuple(id(t) for t in _flat(model.inputs))
    return Graph(inputs, tuple(_shape(t) for t in _flat(model.inputs)), tuple(nodes), data_format)


def _config(layer):
    try:
        return layer.get_config()
    except NotImplementedError:
        return {}


def _first(shape):
    return shape[0] if shape and isinstance(shape[0], tuple) else shape


def traced_graph(traced, input_shape):
    """The chain `Graph` of `summary`'s traced `(layer, input_shape, output_shape)` triples."""
    layers = [(layer.name, type(layer).__name__, _config(layer), _first(i), _first(o))
              for layer, i, o in traced]
    return chain_graph((None, *input_shape), layers)


def rows_graph(rows, configs, input_shape):
    """The chain `Graph` of summary rows of specs (`configs`: their class names and configs)."""
    layers = [(row["name"], class_name, config, row["input_shape"], row["output_shape"])
              for row, (class_name, config) in zip(rows, configs)]
    return chain_graph((None, *input_shape), layers)


def graph_of(model_or_layers, input_shape=None):
    """A `Graph` from a Keras model, a list of Keras layers or a list of layer specs (texts)."""
    if isinstance(model_or_layers, (list, tuple)) and model_or_layers and all(
            isinstance(item, str) for item in model_or_layers):
        if input_shape is None:
            raise invalid_argument("input_shape", input_shape, "the input shape without batch, e.g. (8, 1)")
        from structconv.shapes.spec_summary import spec_configs, spec_rows

        rows = spec_rows(model_or_layers, tuple(input_shape), receptive_field=False)
        if rows is not None:
            return rows_graph(rows, spec_configs(model_or_layers), input_shape)
        from structconv.shapes.spec import layer_from_spec

        model_or_layers = [layer_from_spec(text) for text in model_or_layers]
    import keras

    from structconv.shapes.summary import _trace

    if isinstance(model_or_layers, keras.Model) and input_shape is None:
        return keras_graph(model_or_layers)
    return traced_graph(_trace(model_or_layers, input_shape), input_shape)


def receptive_field(model, layer=None, input_shape=None):
    """The receptive field of `layer`'s outputs in `model`'s (first) input, per spatial axis.

    Args:
        model: a Keras model (functional models may branch and merge: regions are the union over paths),
            a list of Keras layers, or a list of layer specs such as `"Conv2D(32, 7, strides=3)"`.
        layer: a layer name or layer of `model`; default the last layer.
        input_shape: the input shape without batch axis; required for lists, optional for a model (a
            single chain of layers) to see it on another size.

    Returns:
        A `ReceptiveField`: `.size`, `.jump` and `.start` per axis (on an input without borders: the extent
        of one output's region, the input distance between neighbouring outputs, the input position of the
        first output's centre), and `.region(position)`, the first and last input position per axis that
        the output at `position` depends on, borders and padding included.

    Example (story 5's two convolutions: a 7-tap window every 3 pixels, then 5 of those every 2):

    >>> specs = ["Conv2D(32, 7, strides=3)", "Conv2D(64, 5, strides=2)"]
    >>> field = receptive_field(specs, input_shape=(28, 28, 1))
    >>> field.size, field.jump, field.start
    ((19, 19), (6, 6), (9, 9))
    >>> field.region((1, 0))
    ((6, 24), (0, 18))
    """
    graph = graph_of(model, input_shape)
    if layer is None:
        node = graph.nodes[-1]
    else:
        node = graph.node(layer if isinstance(layer, str) else layer.name)
    fields = receptive_fields(graph)
    if fields.get(node.name) is None:
        unknown = next(n for n in graph.nodes if fields.get(n.name) is None)
        reads = "" if unknown is node else f" it reads layer {unknown.name!r} ({unknown.class_name}), and"
        raise StructconvError(
            f"No receptive field for layer {node.name!r}:{reads} layer {unknown.name!r} "
            f"({unknown.class_name}) has no receptive-field rule (structconv knows convolutions, pooling, "
            "upsampling, padding, cropping, concatenation, recurrent, attention and elementwise layers)."
        )
    return fields[node.name]
