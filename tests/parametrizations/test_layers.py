"""Parametrized layers: user story 3 (masked kernels), `assign_kernel`, the effective kernel against stock
Keras, and the regularizer on the effective kernel."""

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import (
    CASE_NAMES,
    KERNEL_SHAPE,
    assert_close,
    build,
    cases,
    check_invariant,
    reference_project,
    to_numpy,
)

from structconv import layers
from structconv import parametrizations as P
from structconv.errors import StructconvError


def _stock_conv2d(kernel, bias=None, **kwargs):
    """A stock `keras.layers.Conv2D` holding `kernel` (and `bias`)."""
    kernel = np.asarray(kernel)
    stock = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], use_bias=bias is not None, **kwargs)
    stock.build((None, None, None, kernel.shape[-2]))
    stock.set_weights([kernel] if bias is None else [kernel, np.asarray(bias)])
    return stock


def test_story_3_masked_kernels():
    """Conv2D(16, 3) on 3 channels, 5 of the 48 (in, out) kernels masked, no bias: 387 trainable
    parameters in one weight, the masked kernels exactly 0 after training, and the outputs of a stock
    Conv2D holding the effective kernel."""
    connected = np.ones((3, 16), "int8")
    connected[0, :5] = 0
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    conv = layers.Conv2D(16, 3, use_bias=False, kernel_parametrization=P.Mask(connected))
    model = keras.Sequential([keras.Input((8, 8, 3)), conv])
    assert model.count_params() == 3 * 3 * (48 - 5) == 387
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 387
    assert len(conv.weights) == 1 and conv.weights[0].name == "free_kernel"
    assert len(model.non_trainable_weights) == 0

    before = to_numpy(conv.kernel)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    x = rng.standard_normal((32, 8, 8, 3)).astype("float32")
    model.fit(x, rng.standard_normal((32, 6, 6, 16)).astype("float32"), batch_size=8, epochs=2, verbose=0)
    kernel = to_numpy(conv.kernel)
    assert kernel.shape == (3, 3, 3, 16)
    np.testing.assert_array_equal(kernel[:, :, 0, :5], 0.0)  # exactly
    unmasked = np.broadcast_to(connected == 1, kernel.shape)
    assert np.all(np.abs(kernel - before)[unmasked] > 0), "every free entry trains"
    assert np.all(kernel[unmasked] != 0)

    stock = _stock_conv2d(kernel)
    assert_close(model(x), stock(x), rtol=1e-5)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_assign_kernel_then_kernel_returns_it(name):
    rng = np.random.default_rng(sum(map(ord, name)) + 2)
    conv = layers.Conv2D(2, 3, kernel_parametrization=cases()[name])
    conv.build((None, 6, 6, 2))
    values = reference_project(name, rng.standard_normal(KERNEL_SHAPE)).astype("float32")
    assert check_invariant(name, values) == []
    conv.assign_kernel(values)
    assert_close(conv.kernel, values, rtol=1e-6, what=name)
    # and the layer convolves with it, as a stock Conv2D holding it
    x = rng.standard_normal((2, 6, 6, 2)).astype("float32")
    bias = to_numpy(conv.bias)
    assert_close(conv(x), _stock_conv2d(values, bias)(x), rtol=1e-5, what=name)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_assign_kernel_rejects_a_violating_kernel_unless_projected(name):
    rng = np.random.default_rng(sum(map(ord, name)) + 3)
    conv = layers.Conv2D(2, 3, kernel_parametrization=cases()[name])
    conv.build((None, 6, 6, 2))
    before = to_numpy(conv.free_kernel)
    bad = rng.standard_normal(KERNEL_SHAPE).astype("float32")
    with pytest.raises(StructconvError, match="`values`") as raised:
        conv.assign_kernel(bad)
    assert "project=True" in str(raised.value)
    np.testing.assert_array_equal(to_numpy(conv.free_kernel), before)  # left as it was
    conv.assign_kernel(bad, project=True)
    assert_close(conv.kernel, reference_project(name, bad), rtol=1e-5, what=name)


def test_assign_kernel_on_a_transposed_layer():
    conv = layers.Conv2DTranspose(2, 3, strides=2, kernel_parametrization="zero_sum")
    conv.build((None, 4, 4, 2))
    values = np.random.default_rng(4).standard_normal((3, 3, 2, 2))
    values -= values.mean(axis=(0, 1), keepdims=True)
    conv.assign_kernel(values)
    assert_close(conv.kernel, values, rtol=1e-6)


def test_initial_kernel_satisfies_the_constraint():
    for name in CASE_NAMES:
        conv = layers.Conv2D(2, 3, kernel_parametrization=cases()[name])
        conv.build((None, 6, 6, 2))
        kernel, free = to_numpy(conv.kernel), to_numpy(conv.free_kernel)
        assert free.shape == tuple(build(name).free_shape), name
        assert np.abs(kernel).max() > 0, name
        assert check_invariant(name, kernel, free) == [], name


def test_regularizer_penalizes_the_effective_kernel():
    conv = layers.Conv2D(
        2, 3, kernel_parametrization=P.FixedSum(1.0), kernel_regularizer=keras.regularizers.L2(0.5)
    )
    conv(np.zeros((1, 6, 6, 2), "float32"))
    kernel = to_numpy(conv.kernel).astype(np.float64)
    assert len(conv.losses) == 1
    np.testing.assert_allclose(float(to_numpy(conv.losses[0])), 0.5 * (kernel**2).sum(), rtol=1e-5)


def test_layer_called_on_new_shapes_and_dtypes_convolves_with_the_kernel():
    """`ConvND.convolution_op` keeps its checks, padding and algorithm per input shape and dtype: calls on
    other spatial sizes, another batch size and float64 inputs (cast to the layer's float32, as
    `structconv.ops.conv` does) each give a stock Conv2D's outputs for the effective kernel."""
    conv = layers.Conv2D(2, 3, padding="same", strides=2, kernel_parametrization="zero_sum")
    rng = np.random.default_rng(6)
    for shape, dtype in (((2, 7, 7, 2), "float32"), ((3, 9, 6, 2), "float32"), ((2, 7, 7, 2), "float64"),
                         ((1, 5, 8, 2), "float32")):
        x = rng.standard_normal(shape).astype(dtype)
        y = conv(x)
        stock = _stock_conv2d(to_numpy(conv.kernel), to_numpy(conv.bias), padding="same", strides=2)
        assert_close(y, stock(x.astype("float32")), rtol=1e-5, what=f"{shape} {dtype}")
    # a wrong channel count is still refused by name, whatever was called before
    with pytest.raises(ValueError, match="channels|axis"):
        conv(np.zeros((2, 7, 7, 3), "float32"))
