"""Grouped convolution trains at every rank and dtype: forward, gradients and one step of `fit`, against the
NumPy reference.

TensorFlow's CPU kernels differentiate a grouped convolution only with oneDNN and only in float32/bfloat16;
structconv then builds it from ungrouped convolutions (`structconv._backend.tensorflow_conv`), which these
tests cover with both of its forms (a block-diagonal kernel for few channels per group, one convolution per
group for many).
"""

import keras
import numpy as np
import pytest
import reference
from conftest import autodiff_gradients, compiled, to_numpy

from structconv import layers
from structconv import ops as sops

# Relative tolerances against the float64 reference, by the dtype the convolution runs in.
TOLERANCE = {"float16": 2e-2, "bfloat16": 1e-1, "float32": 1e-5, "float64": 1e-10}
# (rank, channels, filters, groups): 2 channels per group (block-diagonal on TensorFlow) and 9 (split).
CASES = [(1, 4, 4, 2), (2, 4, 6, 2), (3, 4, 4, 4), (4, 4, 2, 2), (1, 18, 4, 2), (2, 18, 6, 2)]


def _data(rank, channels, filters, groups, seed=0):
    rng = np.random.default_rng(seed)
    size = 4 if rank >= 3 else 5
    x = rng.standard_normal((2, *(size,) * rank, channels))
    kernel = rng.standard_normal((*(2,) * rank, channels // groups, filters)) / np.sqrt(channels)
    return x, kernel


def _reference(x, kernel, groups):
    rank = x.ndim - 2
    return reference.conv_reference(x, kernel, 1, [(0, 1)] * rank, 1, groups)  # "same" for a 2-tap kernel


@pytest.mark.parametrize("dtype", sorted(TOLERANCE))
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"r{c[0]}-c{c[1]}-g{c[3]}")
def test_grouped_forward_and_gradients(case, dtype):
    rank, channels, filters, groups = case
    x, kernel = _data(rank, channels, filters, groups)
    expected = _reference(x, kernel, groups)
    weights = np.random.default_rng(1).standard_normal(expected.shape)

    def loss(x, kernel):
        y = sops.conv(x, kernel, padding="same", groups=groups)
        return keras.ops.sum(keras.ops.cast(y, "float64") * keras.ops.convert_to_tensor(weights))

    tolerance = TOLERANCE[dtype]
    forward = compiled(lambda a, b: sops.conv(a, b, padding="same", groups=groups))  # one program on JAX
    y = to_numpy(forward(keras.ops.cast(x, dtype), keras.ops.cast(kernel, dtype))).astype(np.float64)
    np.testing.assert_allclose(y, expected, rtol=tolerance, atol=tolerance * np.max(np.abs(expected)))
    gradients = autodiff_gradients(loss, x, kernel, dtype=dtype)
    for index, (array, gradient) in enumerate(zip((x, kernel), gradients)):
        def reference_loss(value, index=index):
            operands = [value if i == index else a for i, a in enumerate((x, kernel))]
            return np.sum(_reference(*operands, groups) * weights)

        # The loss is linear in each operand: central differences of the reference are exact to rounding.
        numeric = reference.numerical_gradient(reference_loss, array, eps=1.0)
        scale = np.max(np.abs(numeric))
        np.testing.assert_allclose(gradient, numeric, rtol=tolerance, atol=tolerance * scale)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_grouped_layer_fit_step(rank):
    """One SGD step of `fit` moves the kernel by the learning rate times the reference gradient."""
    channels, filters, groups = 4, 4, 2
    x, kernel = _data(rank, channels, filters, groups, seed=rank)
    target = np.random.default_rng(5).standard_normal(_reference(x, kernel, groups).shape)
    layer = layers.ConvND(filters, 2, rank=rank, padding="same", groups=groups, use_bias=False)
    model = keras.Sequential([keras.Input(x.shape[1:]), layer])
    layer.kernel.assign(kernel.astype("float32"))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x.astype("float32"), target.astype("float32"), batch_size=len(x), epochs=1, verbose=0)

    def reference_loss(value):
        return np.mean((_reference(x, value, groups) - target) ** 2)

    expected = kernel - 0.1 * reference.numerical_gradient(reference_loss, kernel, eps=1e-4)
    np.testing.assert_allclose(to_numpy(layer.kernel), expected, rtol=1e-4, atol=1e-5)
