"""Multiply-adds and FLOPs of stock Keras layers against NumPy implementations that count as they run.

Each layer's output is checked against its counting implementation first, so the counts compared are
those of the layer's actual computation.
"""

import keras
import numpy as np
import pytest
from conftest import assert_close, to_numpy
from shapes import counting

from structconv.shapes import summary
from structconv.shapes.costs import layer_costs

L = keras.layers


def run(layer, *input_shapes, seed=0):
    """The layer's output on random inputs (batch 1), the inputs, and its summary row."""
    rng = np.random.default_rng(seed)
    inputs = [keras.Input(shape) for shape in input_shapes]
    model = keras.Model(inputs, layer(*inputs))
    arrays = [rng.normal(size=(1, *shape)).astype("float32") for shape in input_shapes]
    # Non-zero biases and statistics, so that a bias the reference forgot shows in the outputs.
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.get_weights()])
    output = to_numpy(model(arrays if len(arrays) > 1 else arrays[0]))
    return output[0], [a[0].astype("float64") for a in arrays], summary(model, print_table=False)[-1]


def check(row, counter):
    assert (row["multiply_adds"], row["flops"]) == counter.total()
    assert row["not_counted"] is None


@pytest.mark.parametrize("kwargs, shape", [
    (dict(filters=4, kernel_size=3, strides=2, padding="same"), (9, 8, 2)),
    (dict(filters=6, kernel_size=(2, 3), dilation_rate=(2, 1), groups=3, use_bias=False), (7, 6, 3)),
    (dict(filters=2, kernel_size=3, strides=1, padding="valid"), (5, 6, 4, 1)),
])
def test_convolutions(kwargs, shape):
    rank = len(shape) - 1
    layer = getattr(L, f"Conv{rank}D")(**kwargs)
    output, (x,), row = run(layer, shape)
    counter = counting.Counter()
    kernel = to_numpy(layer.kernel).astype("float64")
    strides = (kwargs.get("strides", 1),) * rank
    dilation = kwargs.get("dilation_rate", 1)
    dilation = dilation if isinstance(dilation, tuple) else (dilation,) * rank
    pads = [counting.same_pads(n, k, s, d) if kwargs.get("padding") == "same" else (0, 0)
            for n, k, s, d in zip(shape[:-1], kernel.shape, strides, dilation)]
    bias = to_numpy(layer.bias) if layer.use_bias else None
    expected = counting.conv(counter, x, kernel, strides, pads, dilation, kwargs.get("groups", 1), bias)
    assert_close(output, expected)
    check(row, counter)


def test_causal_conv1d():
    layer = L.Conv1D(3, 3, padding="causal", dilation_rate=2)
    output, (x,), row = run(layer, (10, 2))
    counter = counting.Counter()
    kernel, bias = to_numpy(layer.kernel), to_numpy(layer.bias)
    expected = counting.conv(counter, x, kernel, (1,), [(4, 0)], (2,), 1, bias)
    assert_close(output, expected)
    check(row, counter)


@pytest.mark.parametrize("padding, strides, shape", [("valid", 2, (4, 5, 3)), ("same", 3, (3, 4, 2)),
                                                     ("valid", 3, (5, 2))])
def test_transposed_convolutions(padding, strides, shape):
    rank = len(shape) - 1
    kernel_size = 2 if rank == 1 else (3, 2)
    layer = getattr(L, f"Conv{rank}DTranspose")(3, kernel_size, strides=strides, padding=padding)
    output, (x,), row = run(layer, shape)
    counter = counting.Counter()
    expected = counting.conv_transpose(counter, x, to_numpy(layer.kernel), (strides,) * rank, padding,
                                       to_numpy(layer.bias))
    assert_close(output, expected)
    check(row, counter)


@pytest.mark.parametrize("separable", [False, True])
def test_depthwise_and_separable(separable):
    if separable:
        layer = L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same")
    else:
        layer = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2)
    output, (x,), row = run(layer, (7, 6, 3))
    counter = counting.Counter()
    depthwise = to_numpy(layer.depthwise_kernel if separable else layer.kernel)
    channels, multiplier = depthwise.shape[-2:]
    # A depthwise kernel is a grouped convolution's, one group per input channel.
    grouped = depthwise.reshape(*depthwise.shape[:2], 1, channels * multiplier)
    strides = (1, 1) if separable else (2, 2)
    pads = [counting.same_pads(n, 3, 1, 1) for n in (7, 6)] if separable else [(0, 0), (0, 0)]
    bias = None if separable else to_numpy(layer.bias)
    y = counting.conv(counter, x, grouped, strides, pads, (1, 1), channels, bias)
    if separable:
        pointwise = to_numpy(layer.pointwise_kernel)[0, 0]
        y = counting.conv(counter, y, pointwise[None, None], (1, 1), [(0, 0)] * 2, (1, 1), 1,
                          to_numpy(layer.bias))
    assert_close(output, y)
    check(row, counter)


def test_dense_and_einsum_dense_on_sequences():
    dense = L.Dense(4)
    output, (x,), row = run(dense, (5, 3))
    counter = counting.Counter()
    expected = counter.elementwise(counter.matmul(x, to_numpy(dense.kernel)) + to_numpy(dense.bias))
    assert_close(output, expected)
    check(row, counter)
    einsum = L.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d")
    output, (x,), row = run(einsum, (5, 3))
    counter = counting.Counter()
    expected = counter.elementwise(counter.matmul(x, to_numpy(einsum.kernel)) + to_numpy(einsum.bias))
    assert_close(output, expected)
    check(row, counter)


@pytest.mark.parametrize("kind", ["max", "average"])
def test_pooling(kind):
    layer = (L.MaxPooling2D if kind == "max" else L.AveragePooling2D)((2, 3))
    output, (x,), row = run(layer, (6, 7, 2))
    counter = counting.Counter()
    assert_close(output, counting.pool(counter, x, (2, 3), kind))
    check(row, counter)


def test_normalization():
    layer = L.BatchNormalization()
    output, (x,), row = run(layer, (4, 3))
    gamma, beta, mean, variance = (to_numpy(w) for w in layer.weights)
    scale = gamma / np.sqrt(variance + layer.epsilon)  # folded once, not per example
    counter = counting.Counter()
    expected = counter.elementwise(counter.elementwise(x * scale) + (beta - mean * scale))
    assert_close(output, expected)
    assert (row["multiply_adds"], row["flops"]) == (x.size, counter.flops)
    layer = L.LayerNormalization()
    output, (x,), row = run(layer, (4, 6))
    counter = counting.Counter()
    mean = counter.elementwise(x).sum(-1, keepdims=True) / x.shape[-1]  # the sum's additions
    centred = counter.elementwise(x - mean)
    squares = counter.elementwise(centred * centred)
    variance = counter.elementwise(squares).sum(-1, keepdims=True) / x.shape[-1]
    normalized = counter.elementwise(centred / np.sqrt(variance + layer.epsilon))
    gamma, beta = (to_numpy(w) for w in layer.weights)
    expected = counter.elementwise(counter.elementwise(normalized * gamma) + beta)
    assert_close(output, expected, rtol=1e-3)
    assert row["flops"] == counter.flops


@pytest.mark.parametrize("cross", [False, True])
def test_multi_head_attention(cross):
    # Keras's own layer fails on JAX when value_dim differs from key_dim (its reshape assumes them equal).
    value_dim = 3 if keras.backend.backend() == "jax" else 4
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=value_dim)
    shapes = [(5, 6), (4, 7)] if cross else [(5, 6), (5, 6)]
    output, (query, value), row = run(layer, *shapes)
    counter = counting.Counter()
    weights = [to_numpy(w).astype("float64") for w in layer.weights]
    expected = counting.attention(counter, query, value, weights, 2, 3, value_dim)
    assert_close(output, expected, rtol=1e-3)
    check(row, counter)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent(kind):
    layer = getattr(L, kind)(3)
    output, (x,), row = run(layer, (6, 2))
    counter = counting.Counter()
    weights = [to_numpy(w).astype("float64") for w in layer.weights]
    expected = counting.recurrent(counter, kind, x, *weights, units=3)
    assert_close(output, expected, rtol=1e-3)
    check(row, counter)


def test_embedding_is_a_lookup_and_unknown_layers_are_listed():
    inputs = keras.Input((5,), dtype="int32")
    model = keras.Model(inputs, L.Embedding(10, 4)(inputs))
    assert (summary(model, print_table=False)[-1]["multiply_adds"], "counted") == (0, "counted")
    assert layer_costs("Bidirectional", {}, [(None, 5, 2)], [(None, 6)]) is None
    inputs = keras.Input((5, 2))
    model = keras.Model(inputs, L.Bidirectional(L.LSTM(3))(inputs))
    row = summary(model, print_table=False)[-1]
    assert row["multiply_adds"] is None and "Bidirectional" in row["not_counted"]
