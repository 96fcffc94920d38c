"""The summary table: `summary`'s rows as a rich table, printed or as text for a report."""

import io

CONVENTIONS = (
    "shapes per example (batch axis omitted); multiply-adds and FLOPs per example (taps on padding "
    "included, activations excluded; see structconv.shapes.costs), a complex multiply-add counted as 4 real; "
    "a complex parameter counts as 2 reals; a masked kernel counts only its free entries"
)
RECEPTIVE_FIELD = (
    "receptive field per spatial axis on an input without borders: size = input positions one output "
    "sees, jump = input distance between neighbouring outputs, start = input position of the first "
    "output's centre"
)


def format_shape(shape):
    """A shape without its batch axis, as text; a pair of shapes as `2 x (...)`.

    >>> format_shape((None, 8, 8, 32))
    '(8, 8, 32)'
    """
    if shape and isinstance(shape[0], tuple):
        parts = {format_shape(s) for s in shape}
        if len(parts) == 1:
            return f"{len(shape)} x {parts.pop()}"
        return ", ".join(format_shape(s) for s in shape)
    dims = ["None" if d is None else str(d) for d in shape[1:]]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _kernel_text(row):
    if not row["kernel_shape"]:
        return ""
    shapes, axes = row["kernel_shape"], row["kernel_axes"]
    if shapes and isinstance(shapes[0], tuple):  # separable: depthwise and pointwise kernels
        parts = [f"{_plain(s)} = {', '.join(a)}" for s, a in zip(shapes, axes)]
        return "\n".join(parts)
    text = f"{_plain(shapes)}\n= {', '.join(axes)}"
    if row["free_kernel_entries"] is not None:
        text += f"\nfrom {row['free_kernel_entries']:,} free entries"
    return text


def _plain(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _number(value):
    return "?" if value is None else f"{value:,}"


def table_text(rows, title="model", width=140, receptive_field=False):
    """The summary table as text (what `print_rows` prints), e.g. for a report."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(_rich_table(rows, title, receptive_field))
    return console.export_text()


def _axes_text(values):
    return " x ".join("?" if v is None else f"{v:g}" for v in values)


def receptive_field_text(row):
    """A row's receptive field as three short lines, or `?` where it is not known."""
    field = row.get("receptive_field")
    if field is None:
        return "?"
    start = ", ".join(f"{v:g}" for v in field["start"])
    if all(j is None for j in field["jump"]):
        return f"{_axes_text(field['size'])}\n(every input)"
    return f"{_axes_text(field['size'])}\njump {_axes_text(field['jump'])}\nstart ({start})"


def _rich_table(rows, title, receptive_field=False):
    from rich.table import Table

    table = Table(title=title, caption=_caption(rows, receptive_field), show_lines=True)
    table.add_column("Layer")
    table.add_column("Output shape", no_wrap=True)
    table.add_column("Arithmetic (per axis)")
    table.add_column("Kernel (axes)")
    table.add_column("Params (train / non)", justify="right")
    table.add_column("Mult-adds\n(FLOPs)", justify="right", no_wrap=True)
    if receptive_field:
        table.add_column("Receptive field", no_wrap=True)
    for row in rows:
        params = f"{row['trainable_params']:,} / {row['non_trainable_params']:,}"
        if row["complex"]:
            params += "\n(complex: 2 reals each)"
        costs = f"{_number(row['multiply_adds'])}\n({_number(row.get('flops'))})"
        if row.get("not_counted"):
            costs = "not counted"
        cells = [f"{row['name']}\n({row['type']})", format_shape(row["output_shape"]),
                 "\n".join(row["arithmetic"] + row["dropped"]), _kernel_text(row), params, costs]
        if receptive_field:
            cells.append(receptive_field_text(row))
        table.add_row(*cells)
    return table


def totals(rows):
    """`(multiply_adds, flops, not_counted)` of a model: sums over the counted layers (`None` when a size
    is unknown) and the names of the layers without a cost rule."""
    counted = [r for r in rows if not r.get("not_counted")]
    macs = [r["multiply_adds"] for r in counted]
    flops = [r.get("flops") for r in counted]
    missing = [f"{r['name']} ({r['type']})" for r in rows if r.get("not_counted")]
    return (None if None in macs else sum(macs), None if None in flops else sum(flops), missing)


def _caption(rows, receptive_field=False):
    trainable = sum(r["trainable_params"] for r in rows)
    non_trainable = sum(r["non_trainable_params"] for r in rows)
    macs, flops, missing = totals(rows)
    text = (f"Params: {trainable:,} trainable, {non_trainable:,} non-trainable. Per example: multiply-adds "
            f"{_number(macs)}, FLOPs {_number(flops)}")
    if missing:
        text += f" (without {', '.join(missing)}: not counted)"
    text += f".\n{CONVENTIONS}."
    if receptive_field:
        text += f"\n{RECEPTIVE_FIELD}."
    return text


def print_rows(rows, title="model", receptive_field=False):
    """Prints summary rows as a table (rich; at least 140 columns wide when not on a terminal)."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough that formulas stay on one line
        console = Console(width=max(console.width, 165 if receptive_field else 140))
    console.print(_rich_table(rows, title, receptive_field))
