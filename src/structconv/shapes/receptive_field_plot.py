"""A picture of one output's receptive field: the input region it sees, and the windows of every layer.

Matplotlib is imported when a figure is drawn (through its object API, so no pyplot state is touched).
"""

from structconv.errors import invalid_argument
from structconv.shapes.axis_maps import axis_maps
from structconv.shapes.receptive_field import input_positions, receptive_fields, tensor_positions


def default_layer(graph):
    """The last layer whose outputs keep spatial axes and have a known receptive field."""
    fields = receptive_fields(graph)
    for node in reversed(graph.nodes):
        if fields.get(node.name) is not None and graph.spatial(node.output_shape) is not None:
            return node.name
    raise invalid_argument("model", [n.name for n in graph.nodes],
                           "a model with a layer whose outputs keep spatial axes and a known receptive field")


def plot_receptive_field(graph, path, layer=None, position=None, axis=0):
    """Writes a figure to `path`: for the output at `position` (default the centre) of `layer` (default the
    last layer with spatial outputs), the input positions it sees (for a 3-D or larger input, the plane of
    the first two axes through the region's centre), and, along spatial `axis`, the positions of every
    layer it depends on, with each layer's window parameters. Returns `(layer, position, region)`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spatial = graph.spatial(graph.input_shapes[0])
    if not spatial or None in spatial:
        raise invalid_argument("input_shape", graph.input_shapes[0][1:], "an input with spatial axes of "
                               "known sizes and channels, e.g. (28, 28, 1), for a receptive-field plot")
    layer = default_layer(graph) if layer is None else layer
    node = graph.node(layer)
    spatial = graph.spatial(node.output_shape)
    if position is None:
        position = tuple((n - 1) // 2 for n in spatial)
    sets = input_positions(graph, layer, position)
    input_spatial = graph.spatial(graph.input_shapes[0])
    if not 0 <= axis < len(input_spatial):
        raise invalid_argument("axis", axis, f"a spatial axis, 0 to {len(input_spatial) - 1}")
    region = tuple((min(s), max(s)) for s in sets) if all(sets) else None
    figure = Figure(figsize=(11, 4.6))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, width_ratios=(1, 1.6))
    _draw_input(left, input_spatial, sets, region)
    _draw_windows(right, graph, node, position, axis)
    figure.suptitle(f"Receptive field of {layer} at output position {tuple(position)}: input region "
                    f"{_region_text(region)}")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return layer, tuple(position), region


def _region_text(region):
    if region is None:
        return "none (the output is computed from padding only)"
    return " x ".join(f"[{a}, {b}]" for a, b in region)


def _draw_input(axes, spatial, sets, region):
    import numpy as np

    rows = spatial[0] if len(spatial) > 1 else 1
    columns = spatial[1] if len(spatial) > 1 else spatial[0]
    row_set, column_set = (sets[0], sets[1]) if len(spatial) > 1 else ({0}, sets[0])
    mask = np.zeros((rows, columns))
    if region is not None:
        (r0, r1), (c0, c1) = (region[0], region[1]) if len(spatial) > 1 else ((0, 0), region[0])
        mask[r0:r1 + 1, c0:c1 + 1] = 1
        for r in row_set:
            for c in column_set:
                mask[r, c] = 2
    axes.imshow(mask, cmap="Blues", vmin=0, vmax=2.4, aspect="equal" if len(spatial) > 1 else "auto",
                interpolation="nearest")
    title = "input positions the output reads (dark) and their bounding box"
    if len(spatial) > 2:
        centre = ", ".join(str((min(s) + max(s)) // 2) if s else "-" for s in sets[2:])
        title += f"\n(plane of axes 0 and 1 at axes 2+ = {centre})"
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("axis 1" if len(spatial) > 1 else "axis 0")
    axes.set_ylabel("axis 0" if len(spatial) > 1 else "")
    if len(spatial) == 1:
        axes.set_yticks([])


def _draw_windows(axes, graph, node, position, axis):
    from matplotlib.patches import Polygon, Rectangle

    wanted = tensor_positions(graph, node.name, position)
    rows = [(graph.inputs[0], "input", graph.spatial(graph.input_shapes[0]), "")]
    for other in graph.nodes[:graph.nodes.index(node) + 1]:
        spatial = graph.spatial(other.output_shape)
        if spatial is None or other.output not in wanted:
            continue
        maps = axis_maps(graph, other, 0)
        window = _window_text(maps[axis]) if maps is not None else ""
        rows.append((other.output, f"{other.name} ({other.class_name})", spatial, window))
    widest = max(spatial[axis] for _, _, spatial, _ in rows)
    previous = None
    for level, (tensor, label, spatial, window) in enumerate(rows):
        found = wanted.get(tensor)
        chosen = found[axis] if isinstance(found, tuple) else set()
        size = spatial[axis]
        scale = widest / size  # each row spans the width, cells as wide as its positions allow
        for i in range(size):
            colour = "tab:blue" if i in chosen else "white"
            axes.add_patch(Rectangle((i * scale, level), scale, 0.6, facecolor=colour, edgecolor="0.6",
                                     lw=0.4))
        if chosen and previous is not None:  # the span below that this row's chosen positions read
            low, high = previous
            corners = [(low, level - 0.4), (high, level - 0.4), ((max(chosen) + 1) * scale, level),
                       (min(chosen) * scale, level)]
            axes.add_patch(Polygon(corners, closed=True, alpha=0.15, facecolor="tab:blue"))
        if chosen:
            previous = (min(chosen) * scale, (max(chosen) + 1) * scale)
        text = f"{label}: {size} positions" + (f", window {window}" if window else "")
        axes.text(0, level + 0.65, text, ha="left", va="bottom", fontsize=8)
    axes.set_xlim(0, widest)
    axes.set_ylim(-0.1, len(rows) + 0.1)
    axes.set_yticks([])
    axes.set_xticks([])
    axes.set_title(f"positions of each layer the output depends on, along axis {axis} (bottom: input)",
                   fontsize=9)
    for spine in axes.spines.values():
        spine.set_visible(False)


def _window_text(axis_map):
    if axis_map.kind == "window":
        text = f"k={axis_map.kernel_size} s={axis_map.stride}"
        if axis_map.dilation > 1:
            text += f" d={axis_map.dilation}"
        return text + (f" pad={-axis_map.offset}" if axis_map.offset else "")
    if axis_map.kind == "transpose":
        return f"transposed k={axis_map.kernel_size} s={axis_map.stride}"
    if axis_map.kind == "upsample":
        return f"upsample x{axis_map.stride}"
    if axis_map.kind == "shift" and axis_map.offset:
        return f"shift {-axis_map.offset:+d}"
    return "whole axis" if axis_map.kind == "all" else ""
