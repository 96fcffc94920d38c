"""What `structconv shapes` does once its arguments are checked: build, summarise, draw, write JSON."""

import json

from structconv.shapes.summary import summary
from structconv.shapes.table import format_shape, print_rows


def diagrams_text(rows, max_outputs=12):
    """The window diagrams of every convolution and pooling axis in `rows`, as text.

    Axes of one layer with the same numbers share one diagram.
    """
    blocks = []
    for row in rows:
        groups = {}
        for name, explanation in row["explanations"]:
            groups.setdefault(explanation, []).append(name)
        for explanation, names in groups.items():
            title = f"{row['name']} ({row['type']}), {' and '.join(names)}: {explanation}"
            blocks.append(f"{title}\n{explanation.diagram(max_outputs=max_outputs)}")
    legend = "# a tap of the window, - a cell a dilated window skips, p padding, ^ an input no window reads"
    return "\n\n".join(blocks) + ("\n\n" + legend if blocks else "")


def json_rows(rows):
    """`rows` without the explanation objects, ready for `json.dump`."""
    return [{key: value for key, value in row.items() if key != "explanations"} for row in rows]


def explain_shapes(specs, model_path, input_shape, *, diagram=False, json_path=None, receptive_field=False,
                   plot=None):
    """Prints the summary table of a saved model or of layer specs on `input_shape`; returns 0.

    `plot`: `None`, or `(path, position, axis)` to draw a receptive field (`position` `None`: the centre).
    """
    from structconv.shapes import model_graph

    rows = None
    if model_path is None:
        # Most specs need no framework: their rows follow from the shape arithmetic (a second, not ten).
        from structconv.shapes.spec_summary import spec_configs, spec_rows

        rows = spec_rows(specs, input_shape)
    if rows is not None:
        title = f"input {format_shape((None, *input_shape))}"
        graph = model_graph.rows_graph(rows, spec_configs(specs), input_shape) if plot else None
    elif model_path is not None:
        import keras

        import structconv.layers  # noqa: F401  (registers the structconv layers for loading)

        model = keras.saving.load_model(model_path, safe_mode=True)
        rows = summary(model, input_shape, print_table=False)
        title = f"{model.name} ({model_path})"
        graph = model_graph.graph_of(model, input_shape) if plot else None
    else:
        from structconv.shapes.spec import layer_from_spec

        layers = [layer_from_spec(text) for text in specs]
        rows = summary(layers, input_shape, print_table=False)
        title = f"input {format_shape((None, *input_shape))}"
        graph = model_graph.graph_of(layers, input_shape) if plot else None
    print_rows(rows, title=title, receptive_field=receptive_field)
    if diagram:
        print()
        print(diagrams_text(rows))
    if json_path is not None:
        json_path.write_text(json.dumps(json_rows(rows), indent=1))
        print(f"wrote {json_path}")
    if plot is not None:
        from structconv.shapes.receptive_field_plot import plot_receptive_field

        path, position, axis = plot
        layer, position, region = plot_receptive_field(graph, path, position=position, axis=axis)
        print(f"wrote {path}: the receptive field of {layer} at {position}, input region {region}")
    return 0
