"""The summary table: `summary`'s rows as a rich table, printed or as text for a report."""

import io

CONVENTIONS = (
    "shapes per example (batch axis omitted); multiply-adds per example, bias, activation, normalization "
    "and pooling excluded, a complex one counted as 4 real; a complex parameter counts as 2 reals; a "
    "masked kernel counts only its free entries"
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


def table_text(rows, title="model", width=140):
    """The summary table as text (what `print_rows` prints), e.g. for a report."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(_rich_table(rows, title))
    return console.export_text()


def _rich_table(rows, title):
    from rich.table import Table

    table = Table(title=title, caption=_caption(rows), show_lines=True)
    table.add_column("Layer")
    table.add_column("Output shape", no_wrap=True)
    table.add_column("Arithmetic (per axis)")
    table.add_column("Kernel (axes)")
    table.add_column("Params (train / non)", justify="right")
    table.add_column("Mult-adds", justify="right", no_wrap=True)
    for row in rows:
        params = f"{row['trainable_params']:,} / {row['non_trainable_params']:,}"
        if row["complex"]:
            params += "\n(complex: 2 reals each)"
        table.add_row(
            f"{row['name']}\n({row['type']})",
            format_shape(row["output_shape"]),
            "\n".join(row["arithmetic"] + row["dropped"]),
            _kernel_text(row),
            params,
            _number(row["multiply_adds"]),
        )
    return table


def _caption(rows):
    trainable = sum(r["trainable_params"] for r in rows)
    non_trainable = sum(r["non_trainable_params"] for r in rows)
    macs = [r["multiply_adds"] for r in rows]
    total = "?" if None in macs else f"{sum(macs):,}"
    return (f"Params: {trainable:,} trainable, {non_trainable:,} non-trainable. Multiply-adds per example: "
            f"{total}.\n{CONVENTIONS}.")


def print_rows(rows, title="model"):
    """Prints summary rows as a table (rich; at least 140 columns wide when not on a terminal)."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough that formulas stay on one line
        console = Console(width=max(console.width, 140))
    console.print(_rich_table(rows, title))
