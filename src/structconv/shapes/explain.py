"""`explain_conv`: why one axis of a convolution has the size it has, with the arithmetic and a picture."""

import dataclasses

from structconv.errors import invalid_argument
from structconv.shapes import arithmetic


@dataclasses.dataclass(frozen=True)
class ConvExplanation:
    """The arithmetic of one spatial axis of a convolution (see `explain_conv`)."""

    input_size: int
    kernel_size: int
    stride: int
    dilation: int
    padding: object
    pad_before: int
    pad_after: int
    extent: int
    size: int
    dropped: tuple

    @property
    def formula(self):
        """The output size formula with the numbers filled in."""
        padded = f"{self.input_size} + {self.pad_before} + {self.pad_after}"
        extent = str(self.extent)
        if self.dilation > 1:
            extent = f"(({self.kernel_size} - 1) * {self.dilation} + 1)"
        formula = f"floor(({padded} - {extent}) / {self.stride}) + 1"
        if self.input_size + self.pad_before + self.pad_after < self.extent:
            # The kernel is longer than the padded input: no window fits (ops.conv rejects this).
            return f"max({formula}, 0) = 0"
        return f"{formula} = {self.size}"

    def windows(self):
        """Per output position, the padded-input positions its taps read (input index, -1-based pads)."""
        return [
            [j * self.stride - self.pad_before + t * self.dilation for t in range(self.kernel_size)]
            for j in range(self.size)
        ]

    def diagram(self, max_outputs=12):
        """A text picture of the windows over the padded input: `#` a tap, `.` a skipped cell, `p` padding.

        >>> print(explain_conv(8, 5, stride=2).diagram())
        input     0 1 2 3 4 5 6 7
        output 0  # # # # # . . .
        output 1  . . # # # # # .
        dropped                 ^
        """
        positions = list(range(-self.pad_before, self.input_size + self.pad_after))
        width = max(len(str(p)) for p in positions)

        def row(label, cells):
            return f"{label:<9} " + " ".join(c.rjust(width) for c in cells)

        header = ["p" if (p < 0 or p >= self.input_size) else str(p) for p in positions]
        lines = [row("input", header)]
        for j, taps in enumerate(self.windows()[:max_outputs]):
            read = set(taps)
            first, last = taps[0], taps[-1]
            cells = ["#" if p in read else ("-" if first < p < last else ".") for p in positions]
            lines.append(row(f"output {j}", cells))
        if self.size > max_outputs:
            lines.append(f"... {self.size - max_outputs} more outputs")
        if self.dropped:
            dropped = set(self.dropped)
            lines.append(row("dropped", ["^" if p in dropped else " " for p in positions]).rstrip())
        return "\n".join(lines)

    def __str__(self):
        text = f"{self.formula}"
        if self.pad_before or self.pad_after:
            text += f" (padding {self.pad_before} before, {self.pad_after} after)"
        if self.dropped:
            text += f"; input positions {list(self.dropped)} are read by no window"
        return text


def explain_conv(size, kernel_size, stride=1, padding="valid", dilation=1):
    """Explains one spatial axis of a convolution: output size, padding, formula, dropped inputs, diagram.

    Args:
        size: input size along the axis.
        kernel_size, stride, dilation: ints for the axis.
        padding: one axis's padding: `"valid"`, `"same"`, `"full"`, `"causal"`, an int or a pair.

    Returns:
        A `ConvExplanation` with `.size`, `.pad_before`, `.pad_after`, `.formula`, `.dropped` (input
        positions that no tap of any window reads) and `.diagram()`.

    Example (user story 5's second layer: 8 inputs, kernel 5, stride 2):

    >>> e = explain_conv(8, 5, stride=2)
    >>> e.size, e.dropped
    (2, (7,))
    >>> e.formula
    'floor((8 + 0 + 0 - 5) / 2) + 1 = 2'
    >>> explain_conv(224, 7, stride=2, padding="same").pad_before, explain_conv(224, 7, 2, "same").pad_after
    (2, 3)
    """
    if not arithmetic._is_int(size) or size < 0:
        raise invalid_argument("size", size, "an int >= 0, the input size along the axis")
    (entry,) = arithmetic.normalize_padding((padding,), 1)
    kernel_size = arithmetic.normalize_tuple(kernel_size, 1, "kernel_size")[0]
    stride = arithmetic.normalize_tuple(stride, 1, "strides")[0]
    dilation = arithmetic.normalize_tuple(dilation, 1, "dilation_rate")[0]
    before, after = arithmetic.resolve_axis_padding(entry, size, kernel_size, stride, dilation)
    output = arithmetic.conv_output_size(size, kernel_size, stride, (before, after), dilation)
    read = {
        j * stride - before + t * dilation for j in range(output) for t in range(kernel_size)
    }
    return ConvExplanation(
        input_size=size,
        kernel_size=kernel_size,
        stride=stride,
        dilation=dilation,
        padding=entry,
        pad_before=before,
        pad_after=after,
        extent=arithmetic.effective_kernel_size(kernel_size, dilation),
        size=output,
        dropped=tuple(p for p in range(size) if p not in read),
    )


def conv_transpose_formula(size, kernel_size, stride=1, padding="valid", output_padding=None, dilation=1):
    """The output length of a transposed convolution along one axis, as a formula with the numbers in.

    Keras's convention for `"valid"` and `"same"` without `output_padding`; otherwise the length whose
    forward convolution with the same padding gives back `size` outputs, plus `output_padding` (see
    `structconv.shapes.conv_transpose_output_size`).

    >>> conv_transpose_formula(4, 3, stride=2)
    '4 * 2 + max(3 - 2, 0) = 9'
    >>> conv_transpose_formula(4, 3, stride=2, padding="same")
    '4 * 2 = 8'
    >>> conv_transpose_formula(4, 3, stride=2, padding=(1, 1), output_padding=1)
    '(4 - 1) * 2 + 3 - 1 - 1 + 1 = 8'
    """
    if not isinstance(padding, str) or padding not in ("valid", "same"):
        (padding,) = arithmetic.normalize_padding((padding,), 1)
    output = arithmetic.conv_transpose_output_size(
        size, kernel_size, stride, padding, output_padding, dilation
    )
    extent = arithmetic.effective_kernel_size(kernel_size, dilation)
    if padding == "valid" and output_padding is None:
        return f"{size} * {stride} + max({extent} - {stride}, 0) = {output}"
    if padding == "same" and output_padding is None:
        return f"{size} * {stride} = {output}"
    if padding == "same":
        before = after = extent // 2
    else:
        before, after = arithmetic.resolve_axis_padding(padding, None, kernel_size, stride, dilation)
    return f"({size} - 1) * {stride} + {extent} - {before} - {after} + {output_padding or 0} = {output}"
