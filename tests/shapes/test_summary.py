"""`summary` against what Keras computes: output shapes, parameter counts, kernel shapes."""

import math
import re

import keras
import numpy as np
import pytest

from structconv import layers as sc
from structconv.errors import StructconvError
from structconv.parametrizations import Mask
from structconv.shapes import summary

L = keras.layers


def keras_param_totals(model):
    """Trainable and non-trainable parameter totals as printed by `model.summary()`."""
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    text = "\n".join(lines)

    def total(label):
        return int(re.search(rf"{label}: ([\d,]+)", text).group(1).replace(",", ""))

    return total("Trainable params"), total("Non-trainable params")


def formula_value(text):
    left, right = text.split(": ", 1)[1].split(" (pads")[0].rsplit(" = ", 1)
    return eval(left, {"floor": math.floor, "max": max}), int(right)  # our own formula text


def check_against_keras(model):
    rows = summary(model, print_table=False)
    layers = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    assert [row["name"] for row in rows] == [layer.name for layer in layers]
    for row, layer in zip(rows, layers):
        output = layer.output
        expected = tuple(tuple(t.shape) for t in output) if isinstance(output, (tuple, list)) else tuple(
            output.shape
        )
        assert row["output_shape"] == expected, layer.name
        assert row["trainable_params"] + row["non_trainable_params"] == layer.count_params(), layer.name
        for text in row["arithmetic"]:
            if " = " in text and "->" not in text and "*" not in text.split(":")[0]:
                value, stated = formula_value(text)
                assert value == stated, text
        spatial = (
            expected[1:-1] if getattr(layer, "data_format", "channels_last") == "channels_last"
            else expected[2:]
        )
        formulas = [t for t in row["arithmetic"] if ": " in t]
        if formulas and not isinstance(expected[0], tuple):
            assert [formula_value(t)[1] for t in formulas] == list(spatial), (layer.name, formulas)
    trainable, non_trainable = keras_param_totals(model)
    assert sum(row["trainable_params"] for row in rows) == trainable
    assert sum(row["non_trainable_params"] for row in rows) == non_trainable
    return rows


def by_type(rows, name):
    return [row for row in rows if row["type"] == name]


def test_stock_2d_layers():
    model = keras.Sequential([
        keras.Input((16, 17, 3)),
        L.Conv2D(8, 3, strides=2, padding="same"),
        L.BatchNormalization(),
        L.Activation("relu"),
        L.MaxPooling2D(2),
        L.Conv2DTranspose(4, 3, strides=2),
        L.AveragePooling2D(3, strides=2, padding="same"),
        L.Dropout(0.1),
        L.DepthwiseConv2D(2, depth_multiplier=2),
        L.SeparableConv2D(5, 2, dilation_rate=1),
        L.Flatten(),
        L.Dense(10),
        L.Reshape((5, 2)),
        L.LayerNormalization(),
        L.Dense(3),
    ])
    rows = check_against_keras(model)
    conv = by_type(rows, "Conv2D")[0]
    layer = model.get_layer(conv["name"])
    assert conv["kernel_shape"] == tuple(layer.kernel.shape) == (3, 3, 3, 8)
    assert conv["kernel_axes"] == ("height", "width", "in", "out")
    assert conv["multiply_adds"] == math.prod(layer.output.shape[1:]) * math.prod(layer.kernel.shape[:-1])
    transposed = by_type(rows, "Conv2DTranspose")[0]
    layer = model.get_layer(transposed["name"])
    assert transposed["kernel_shape"] == tuple(layer.kernel.shape)
    assert transposed["kernel_axes"] == ("height", "width", "out", "in")
    # Every input element meets every tap and filter: input elements x (taps x filters).
    expected = math.prod(layer.input.shape[1:]) * math.prod(layer.kernel.shape[:-1])
    assert transposed["multiply_adds"] == expected
    batch_norm = by_type(rows, "BatchNormalization")[0]
    assert (batch_norm["trainable_params"], batch_norm["non_trainable_params"]) == (16, 16)
    dense = by_type(rows, "Dense")[0]
    layer = model.get_layer(dense["name"])
    assert dense["multiply_adds"] == math.prod(layer.kernel.shape)
    # Reshape then Dense acts on each of 5 positions.
    last = rows[-1]
    assert last["multiply_adds"] == 5 * math.prod(model.layers[-1].kernel.shape)


def test_stock_1d_and_3d_layers():
    one = keras.Sequential([
        keras.Input((20, 2)),
        L.Conv1D(4, 3, padding="causal", dilation_rate=2),
        L.Conv1DTranspose(3, 4, strides=3, output_padding=1),
        L.MaxPooling1D(3),
        L.Conv1D(2, 3, strides=2, groups=1),
        L.GlobalAveragePooling1D(),
        L.Dense(2, activation="softmax"),
    ])
    rows = check_against_keras(one)
    assert rows[0]["arithmetic"] == ["length: floor((20 + 4 + 0 - ((3 - 1) * 2 + 1)) / 1) + 1 = 20 "
                                     "(pads 4 before, 0 after)"]
    three = keras.Sequential([
        keras.Input((6, 7, 8, 1)),
        L.Conv3D(2, (3, 2, 3), strides=(2, 1, 3)),
        L.Conv3DTranspose(2, 2, strides=2, padding="same"),
        L.MaxPooling3D(2),
        L.Flatten(),
        L.Dense(4),
    ])
    rows = check_against_keras(three)
    assert rows[0]["kernel_axes"] == ("depth", "height", "width", "in", "out")


def test_channels_first_and_grouped():
    model = keras.Sequential([
        keras.Input((4, 12, 12)),
        L.Conv2D(6, 3, strides=2, groups=2, data_format="channels_first"),
        L.MaxPooling2D(2, data_format="channels_first"),
        L.Flatten(),
        L.Dense(3),
    ])
    rows = check_against_keras(model)
    layer = model.layers[0]
    assert rows[0]["kernel_axes"] == ("height", "width", "in / groups", "out")
    assert rows[0]["multiply_adds"] == math.prod(layer.output.shape[1:]) * math.prod(layer.kernel.shape[:-1])


def test_structconv_layers():
    mask = np.ones((3, 3, 3, 16), bool)
    mask[:, :, 0, :5] = False  # story 3: 5 of 48 kernels fixed at zero
    model = keras.Sequential([
        keras.Input((12, 12, 3)),
        sc.Conv2D(16, 3, kernel_parametrization=Mask(mask), name="masked"),
        sc.Conv2D(8, 3, padding=((1, 2), "causal"), kernel_parametrization="zero_sum"),
        sc.ConvNDTranspose(4, 3, rank=2, strides=2, padding="full", output_padding=1),
        sc.Conv2D(4, 3, strides=2, dilation_rate=(1, 2), padding="same"),
    ])
    rows = check_against_keras(model)
    masked = rows[0]
    assert masked["trainable_params"] == int(mask.sum()) + 16 == 387 + 16
    assert masked["free_kernel_entries"] == int(mask.sum())
    assert masked["kernel_shape"] == tuple(model.layers[0].kernel.shape) == (3, 3, 3, 16)
    assert rows[1]["arithmetic"][1].startswith("width: floor((10 + 2 + 0 - 3) / 1) + 1 = 10")
    assert rows[2]["kernel_shape"] == tuple(model.layers[2].kernel.shape)
    four = keras.Sequential([keras.Input((5, 5, 5, 5, 1)), sc.Conv4D(2, 3, strides=2)])
    rows = check_against_keras(four)
    assert rows[0]["kernel_axes"] == ("axis0", "axis1", "axis2", "axis3", "in", "out")


def test_complex_layers_count_two_reals_per_parameter():
    inputs = keras.Input((10, 10, 1))
    field = sc.PhaseModulation()(inputs)
    field = sc.ComplexConv2D(3, 3, name="complex")(field)
    outputs = sc.Intensity()(field)
    model = keras.Model(inputs, outputs)
    rows = check_against_keras(model)
    row = next(r for r in rows if r["name"] == "complex")
    assert row["complex"] and row["output_shape"] == ((None, 8, 8, 3), (None, 8, 8, 3))
    complex_parameters = 3 * 3 * 1 * 3 + 3  # kernel taps x in x out, and the complex bias
    assert row["trainable_params"] == 2 * complex_parameters == model.get_layer("complex").count_params()
    assert row["output_elements"] == 2 * 8 * 8 * 3
    assert row["multiply_adds"] == 4 * 8 * 8 * 9 * 3
    assert row["kernel_axes"][-1] == "real/imag"


def test_list_of_layers_and_new_input_shape():
    layers = [L.Conv2D(32, 7, strides=3, use_bias=False), L.Conv2D(64, 5, strides=2, use_bias=False),
              L.Flatten(), L.Dense(200, use_bias=False)]
    rows = summary(layers, input_shape=(28, 28, 1), print_table=False)
    reference = keras.Sequential([keras.Input((28, 28, 1)), *layers])
    assert [row["output_shape"] for row in rows] == [tuple(layer.output.shape) for layer in reference.layers]
    assert [row["kernel_shape"] for row in rows] == [(7, 7, 1, 32), (5, 5, 32, 64), None, (256, 200)]
    # A model already built on one size, explained on another: the shapes of the new size, not the old.
    convs = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3), L.MaxPooling2D(2)])
    rows = summary(convs, input_shape=(40, 40, 1), print_table=False)
    fresh = keras.Sequential([keras.Input((40, 40, 1)), L.Conv2D(4, 3), L.MaxPooling2D(2)])
    assert [row["output_shape"] for row in rows] == [tuple(layer.output.shape) for layer in fresh.layers]


def test_unknown_sizes():
    model = keras.Sequential([keras.Input((None, None, 3)), L.Conv2D(4, 3), L.GlobalMaxPooling2D()])
    rows = summary(model, print_table=False)
    assert rows[0]["multiply_adds"] is None and rows[0]["output_elements"] is None
    assert rows[0]["arithmetic"][0] == "height: size unknown until run"


def test_prints_a_table(capsys):
    summary([L.Conv2D(32, 7, strides=3), L.Flatten()], input_shape=(28, 28, 1))
    out = capsys.readouterr().out
    assert "(8, 8, 32)" in out and "floor((28 + 0 + 0 - 7) / 3) + 1 = 8" in out and "(2048,)" in out


def test_bad_arguments():
    with pytest.raises(StructconvError, match="Invalid `input_shape`"):
        summary([L.Dense(3)], print_table=False)
    with pytest.raises(StructconvError, match="Invalid `model_or_layers`"):
        summary("Conv2D", input_shape=(3,), print_table=False)
    with pytest.raises(StructconvError, match="Invalid `input_shape`"):
        summary([L.Dense(3)], input_shape=28, print_table=False)
    with pytest.raises(StructconvError, match="window spans 9 inputs"):
        summary([sc.Conv2D(3, 9)], input_shape=(8, 8, 1), print_table=False)
