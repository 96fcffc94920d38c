"""The command line's fast path: rows of layer specs from the shape arithmetic equal Keras's, no framework."""

import os
import subprocess
import sys
import time

import pytest

from structconv.errors import StructconvError
from structconv.shapes import summary
from structconv.shapes.spec import layer_from_spec
from structconv.shapes.spec_summary import spec_rows

CHAINS = [
    ((28, 28, 1), ["Conv2D(32, 7, strides=3, use_bias=False)", "Conv2D(64, 5, strides=2, use_bias=False)",
                   "Flatten", "Dense(200, use_bias=False)", "Dense(10, activation='softmax')"]),
    ((16, 17, 3), ["Conv2D(8, 3, strides=2, padding='same')", "BatchNormalization", "Activation('relu')",
                   "MaxPooling2D(2)", "Conv2DTranspose(4, 3, strides=2)",
                   "AveragePooling2D(3, strides=2, padding='same')", "Dropout(0.1)",
                   "DepthwiseConv2D(2, depth_multiplier=2)", "SeparableConv2D(5, 2, dilation_rate=1)",
                   "LayerNormalization", "GlobalAveragePooling2D(keepdims=True)", "Flatten", "Dense(3)"]),
    ((20, 2), ["Conv1D(4, 3, padding='causal', dilation_rate=2)",
               "Conv1DTranspose(3, 4, 3, output_padding=1)",
               "ZeroPadding1D((1, 2))", "Cropping1D((2, 0))", "UpSampling1D(3)", "MaxPooling1D(3)",
               "Conv1D(2, 3, strides=2, padding=((1, 2),))", "GlobalMaxPooling1D", "Dense(2)"]),
    ((9, 8, 7, 2), ["Conv3D(2, (3, 2, 3), strides=(2, 1, 3), padding=('same', 'full', (0, 1)))",
                    "ZeroPadding3D(((1, 0), 2, 1))", "Cropping3D(1)", "UpSampling3D((1, 2, 1))",
                    "Conv3DTranspose(2, 2, strides=2, padding='same', use_bias=False)", "MaxPooling3D(2)"]),
    ((4, 12, 12), ["Conv2D(6, 3, strides=2, groups=2, data_format='channels_first')",
                   "ZeroPadding2D(1, data_format='channels_first')",
                   "MaxPooling2D(2, data_format='channels_first')", "Flatten", "Dense(3, trainable=False)"]),
    ((7, 6, 5, 4, 2), ["Conv4D(3, 3, strides=(1, 2, 1, 2), dilation_rate=(2, 1, 1, 1), padding='same')",
                       "ConvNDTranspose(2, (2, 2, 2, 2), strides=2, padding='valid')"]),
    ((None, 10, 3), ["Conv2D(4, 3, padding='same')", "UpSampling2D((2, 1))"]),
]


def comparable(rows):
    """Rows without the layer names (Keras numbers them per process) and with explanations as dicts."""
    return [{key: value for key, value in row.items() if key != "name"} for row in rows]


@pytest.mark.parametrize("input_shape, specs", CHAINS)
def test_rows_equal_the_rows_keras_layers_give(input_shape, specs):
    fast = spec_rows(specs, input_shape)
    assert fast is not None
    keras_rows = summary([layer_from_spec(text) for text in specs], input_shape, print_table=False)
    assert comparable(fast) == comparable(keras_rows)


def test_names_are_numbered_as_keras_numbers_them():
    rows = spec_rows(["Conv2D(2, 3)", "Conv2D(2, 3)", "MaxPooling2D", "Dense(3, name='head')"], (9, 9, 1))
    assert [row["name"] for row in rows] == ["conv2d", "conv2d_1", "max_pooling2d", "head"]


@pytest.mark.parametrize("specs", [["Conv2D(32, 7, kernel_initializer='zeros')"], ["Reshape((4, 4))"],
                                   ["Dense(3, activation='my_activation')"], ["AveragePooling2D"],
                                   ["BatchNormalization(axis=1)"]])
def test_what_only_keras_knows_is_left_to_keras(specs):
    assert spec_rows(specs, (4, 4, 1)) is None


@pytest.mark.parametrize("spec, message", [("Conv2D('many', 7)", "Invalid `filters`"),
                                           ("Conv2D(3, 9)", "window spans 9 inputs"),
                                           ("Conv2D(3, 2, padding='sam')", "received 'sam'"),
                                           ("Conv1D(3, 2)", "3 axes"),
                                           ("Cropping2D(5)", "crops 5 + 5 from 8")])
def test_bad_specs_name_the_argument(spec, message):
    with pytest.raises(StructconvError, match="Invalid arguments in layer spec") as error:
        spec_rows([spec], (8, 8, 1))
    assert message in str(error.value)


def test_the_command_line_answers_without_a_framework_in_about_a_second():
    code = (
        "import sys, time; start = time.perf_counter(); from structconv.cli import main; "
        "code = main(['shapes', '--input', '28,28,1', 'Conv2D(32, 7, strides=3)', '--receptive-field']); "
        "print('SECONDS', time.perf_counter() - start); "
        "print('LOADED', sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'numpy') "
        "if m in sys.modules)); "
        "sys.exit(code)"
    )
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ))
    wall = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout and "(8, 8, 32)" in result.stdout
    # A framework import alone takes 5-10 s on the project's 2-core machine; generous for a busy one.
    assert wall < 5, wall
