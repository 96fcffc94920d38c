"""`explain_conv` and `conv_transpose_formula` against brute-force windows and Keras's own shapes."""

import itertools
import math
import re

import keras
import pytest
import reference

from structconv.errors import StructconvError
from structconv.shapes import explain_conv
from structconv.shapes.explain import conv_transpose_formula

PADDINGS = ("valid", "same", "full", "causal", 1, (0, 2), (3, 1))


def brute_force_windows(size, kernel_size, stride, dilation, before, after):
    """Every window that fits in the padded input, as the input positions of its taps (pads are < 0 or
    >= size)."""
    padded = size + before + after
    windows = []
    for start in range(0, padded, stride):
        taps = [start + t * dilation for t in range(kernel_size)]
        if taps[-1] < padded:
            windows.append([tap - before for tap in taps])
    return windows


def evaluate(formula):
    """The value of a formula's left side, computed from its text, and the value it states."""
    left, right = formula.rsplit(" = ", 1)
    value = eval(left, {"floor": math.floor, "max": max})  # our own formula text, in a test only
    return value, int(right)


def test_story_5_numbers():
    first = explain_conv(28, 7, stride=3)
    assert first.size == 8
    assert first.formula == "floor((28 + 0 + 0 - 7) / 3) + 1 = 8"
    assert first.dropped == ()
    second = explain_conv(8, 5, stride=2)
    assert (second.size, second.dropped) == (2, (7,))
    assert second.formula == "floor((8 + 0 + 0 - 5) / 2) + 1 = 2"
    lines = second.diagram().splitlines()
    assert lines[0].split() == ["input", *map(str, range(8))]
    assert lines[1].split()[2:] == ["#"] * 5 + ["."] * 3
    assert lines[2].split()[2:] == ["."] * 2 + ["#"] * 5 + ["."]
    # The caret sits under input 7, the one no window reads.
    assert lines[3].startswith("dropped") and lines[3].index("^") == lines[0].index("7")


def test_same_padding_is_asymmetric_like_tensorflow():
    e = explain_conv(224, 7, stride=2, padding="same")
    assert (e.pad_before, e.pad_after) == reference.same_pads(224, 7, 2) == (2, 3)
    assert e.formula == "floor((224 + 2 + 3 - 7) / 2) + 1 = 112"


def test_explanation_matches_brute_force_windows():
    checked = 0
    for size, kernel_size, stride, dilation, padding in itertools.product(
        range(1, 11), (1, 2, 3, 5), (1, 2, 3), (1, 2), PADDINGS
    ):
        before, after = reference.axis_pads(padding, size, kernel_size, stride, dilation)
        windows = brute_force_windows(size, kernel_size, stride, dilation, before, after)
        if not windows:
            continue
        e = explain_conv(size, kernel_size, stride, padding, dilation)
        assert (e.pad_before, e.pad_after, e.size) == (before, after, len(windows))
        assert e.windows() == windows
        read = {tap for window in windows for tap in window}
        assert e.dropped == tuple(p for p in range(size) if p not in read)
        assert evaluate(e.formula) == (e.size, e.size)
        rows = [line for line in e.diagram(max_outputs=100).splitlines() if line.startswith("output")]
        assert len(rows) == e.size
        assert all(row.count("#") == kernel_size for row in rows)
        checked += 1
    assert checked > 1000


def test_diagram_marks_padding_and_dilation():
    lines = explain_conv(5, 3, padding="full", dilation=2).diagram().splitlines()
    # "full" with extent 5 pads 4 cells on each side.
    assert lines[0].split()[1:] == ["p"] * 4 + list("01234") + ["p"] * 4
    # A dilated window skips every other cell, drawn as "-".
    assert lines[1].split()[2:7] == ["#", "-", "#", "-", "#"]


def test_diagram_truncates_long_outputs():
    text = explain_conv(100, 3).diagram(max_outputs=4)
    assert "... 94 more outputs" in text


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_transpose_formula_matches_keras(padding):
    for size, kernel_size, stride in itertools.product(range(1, 6), (1, 2, 3, 5), (1, 2, 3)):
        for output_padding in (None, *range(stride)):
            layer = keras.layers.Conv1DTranspose(
                1, kernel_size, stride, padding=padding, output_padding=output_padding
            )
            expected = layer.compute_output_shape((1, size, 1))[1]
            formula = conv_transpose_formula(size, kernel_size, stride, padding, output_padding)
            assert evaluate(formula) == (expected, expected), formula


def test_transpose_formula_other_forms_match_the_reference():
    for size, kernel_size, stride, padding in itertools.product(
        range(1, 6), (2, 3), (1, 2), ("full", "causal", 1, (0, 2))
    ):
        for output_padding in range(stride):
            expected = reference.conv_transpose_output_length(
                size, kernel_size, stride, padding, output_padding, 1
            )
            formula = conv_transpose_formula(size, kernel_size, stride, padding, output_padding)
            assert evaluate(formula) == (expected, expected), formula


def test_no_window_fits():
    e = explain_conv(3, 5)
    assert e.size == 0 and e.dropped == (0, 1, 2)
    assert re.fullmatch(r"max\(floor\(.*\) \+ 1, 0\) = 0", e.formula)


@pytest.mark.parametrize(
    "arguments, name",
    [((-1, 3), "size"), ((8.0, 3), "size"), ((8, 0), "kernel_size"), ((8, 3, 0), "strides"),
     ((8, 3, 1, "sam"), "padding"), ((8, 3, 1, "valid", 0), "dilation_rate")],
)
def test_bad_arguments_name_the_argument(arguments, name):
    with pytest.raises(StructconvError, match=rf"Invalid `{name}`: received "):
        explain_conv(*arguments)
