"""The layers inside each framework's own machinery, each test on its own backend.

- torch: the layer is a `torch.nn.Module` trained by a plain PyTorch loop;
- JAX: `stateless_call` under `jax.jit` and `jax.grad`, against the eager call;
- TensorFlow: a `tf.function` call with a `GradientTape`, an eager tape, an unknown batch, an XLA-compiled
  step (what Keras's `fit` compiles by default on a machine with a GPU).

Outputs are checked against the NumPy reference and first-step gradients against exact reference
gradients (the loss is quadratic in the output, the output linear in kernel and bias).
"""

import numpy as np
import pytest
import reference
from conftest import torch_device
from layers.helpers import (
    BACKEND,
    add_bias,
    assert_close,
    linear_gradient,
    set_random_weights,
    tensor,
)

import structconv.layers as sl

KERNEL_SIZE = (2, 1, 2, 2)
SPATIAL = (3, 2, 3, 3)
STRIDES = (1, 1, 2, 1)
PADDING = ("same", "valid", 1, "causal")
CHANNELS, FILTERS = 2, 3


def make_layer(dtype="float64", seed=0):
    """A rank-4 `ConvND` with random weights, a random input and a random regression target."""
    layer = sl.ConvND(
        FILTERS,
        KERNEL_SIZE,
        strides=STRIDES,
        padding=PADDING,
        padding_mode="reflect",
        dtype=dtype,
        kernel_initializer="zeros",
    )
    rng = np.random.default_rng(seed)
    shape = (2, *SPATIAL, CHANNELS)
    kernel, bias = set_random_weights(layer, shape, rng, scale=0.5)
    x = rng.standard_normal(shape)
    target = rng.standard_normal(layer.compute_output_shape(shape))
    return layer, x, kernel, bias, target


def reference_forward(x, kernel, bias):
    pairs = reference.padding_pairs(PADDING, SPATIAL, KERNEL_SIZE, STRIDES, 1)
    y = reference.conv_reference(x, kernel, STRIDES, pairs, 1, 1, "reflect")
    return add_bias(y, bias, "channels_last")


def reference_loss_and_gradients(x, kernel, bias, target):
    """`mean((y - target)**2)` and its exact gradients with respect to kernel and bias."""
    pairs = reference.padding_pairs(PADDING, SPATIAL, KERNEL_SIZE, STRIDES, 1)
    y = reference_forward(x, kernel, bias)
    g = 2.0 * (y - target) / y.size  # d loss / d y
    grad_kernel = linear_gradient(
        lambda k: np.sum(reference.conv_reference(x, k, STRIDES, pairs, 1, 1, "reflect") * g),
        kernel,
    )
    grad_bias = g.reshape(-1, FILTERS).sum(axis=0)
    return float(np.mean((y - target) ** 2)), grad_kernel, grad_bias


@pytest.mark.skipif(BACKEND != "torch", reason="the torch backend's layers are torch modules")
def test_torch_module_in_plain_training_loop():
    import torch

    layer, x, kernel, bias, target = make_layer()
    assert isinstance(layer, torch.nn.Module)
    # torch lists parameters by name (bias before kernel), as for stock Keras layers.
    named = dict(layer.named_parameters())
    assert len(named) == 2 and len(list(layer.parameters())) == 2
    parameters = [named[f"_torch_params.{v.path}"] for v in layer.weights]  # kernel, bias
    assert [tuple(p.shape) for p in parameters] == [kernel.shape, bias.shape]
    assert all(p.requires_grad for p in parameters)

    x_t, target_t = (torch.as_tensor(a, device=torch_device()) for a in (x, target))
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    losses = []
    for step in range(6):
        optimizer.zero_grad()
        y = layer(x_t)
        assert isinstance(y, torch.Tensor)
        loss = torch.mean((y - target_t) ** 2)
        loss.backward()
        if step == 0:
            expected_loss, grad_kernel, grad_bias = reference_loss_and_gradients(
                x, kernel, bias, target
            )
            assert_close(y.detach(), reference_forward(x, kernel, bias), rtol=1e-10)
            np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-10)
            assert_close(parameters[0].grad, grad_kernel, rtol=1e-10)
            assert_close(parameters[1].grad, grad_bias, rtol=1e-10)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    # The Keras variables are the torch parameters: the layer computes with the trained weights.
    trained = [p.detach().cpu().numpy() for p in parameters]
    for keras_value, torch_value in zip(layer.get_weights(), trained):
        np.testing.assert_array_equal(keras_value, torch_value)
    assert_close(layer(x_t).detach(), reference_forward(x, *trained), rtol=1e-10)


@pytest.mark.skipif(BACKEND != "jax", reason="stateless_call under jax.jit and jax.grad")
def test_jax_stateless_call_under_jit_and_grad():
    import jax
    import jax.numpy as jnp

    layer, x, kernel, bias, target = make_layer()
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    x_j, target_j = tensor(x, "float64"), tensor(target, "float64")

    eager = layer(x_j)
    jitted, _ = jax.jit(layer.stateless_call)(trainable, non_trainable, x_j)
    assert_close(jitted, eager, rtol=1e-12)
    assert_close(jitted, reference_forward(x, kernel, bias), rtol=1e-10)

    def loss_fn(weights, inputs):
        y, _ = layer.stateless_call(weights, non_trainable, inputs)
        return jnp.mean((y - target_j) ** 2)

    loss, grads = jax.jit(jax.value_and_grad(loss_fn))(trainable, x_j)
    expected_loss, grad_kernel, grad_bias = reference_loss_and_gradients(x, kernel, bias, target)
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-10)
    for grad, expected in zip(grads, (grad_kernel, grad_bias)):
        assert_close(grad, expected, rtol=1e-10)

    # A jitted functional SGD loop on the weights lowers the loss.
    @jax.jit
    def step(weights):
        value, g = jax.value_and_grad(loss_fn)(weights, x_j)
        return [w - 0.1 * d for w, d in zip(weights, g)], value

    weights, losses = trainable, []
    for _ in range(6):
        weights, value = step(weights)
        losses.append(float(value))
    assert losses[-1] < losses[0], losses


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function and tf.GradientTape")
def test_tf_function_with_gradient_tape():
    import tensorflow as tf

    layer, x, kernel, bias, target = make_layer()
    x_t, target_t = tensor(x, "float64"), tensor(target, "float64")

    @tf.function
    def loss_and_grads(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs)
            loss = tf.reduce_mean((y - target_t) ** 2)
        grad_x, *grads = tape.gradient(loss, [inputs, *layer.trainable_variables])
        return y, loss, grad_x, grads

    y, loss, grad_x, grads = loss_and_grads(x_t)
    assert_close(y, layer(x_t), rtol=1e-12)
    assert_close(y, reference_forward(x, kernel, bias), rtol=1e-10)
    expected_loss, grad_kernel, grad_bias = reference_loss_and_gradients(x, kernel, bias, target)
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-10)
    assert np.all(np.isfinite(grad_x.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert_close(grads[0], grad_kernel, rtol=1e-10)
    assert_close(grads[1], grad_bias, rtol=1e-10)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="eager tf.GradientTape")
@pytest.mark.parametrize("rank", [2, 3, 4])
def test_tf_eager_gradient_tape(rank):
    """Custom TF 2 training loops record the tape eagerly; stock `keras.layers.Conv3D` works."""
    import tensorflow as tf

    layer = sl.ConvND(3, 2, rank=rank, padding="same", kernel_initializer="zeros")
    rng = np.random.default_rng(rank)
    shape = (2, *(3,) * rank, 2)
    kernel, bias = set_random_weights(layer, shape, rng)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape[:-1] + (3,))
    x_t = tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        loss = tf.reduce_sum(layer(x_t) * tensor(g))
    grad_x, grad_kernel, grad_bias = tape.gradient(loss, [x_t, *layer.trainable_variables])
    pairs = reference.padding_pairs("same", shape[1:-1], (2,) * rank, 1, 1)
    expected_kernel = linear_gradient(
        lambda k: np.sum(reference.conv_reference(x, k, 1, pairs, 1) * g), kernel
    )
    assert_close(grad_kernel, expected_kernel, rtol=1e-4)
    assert_close(grad_bias, g.reshape(-1, 3).sum(axis=0), rtol=1e-4)
    assert np.all(np.isfinite(grad_x.numpy()))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function(jit_compile=True)")
@pytest.mark.parametrize("rank,algorithm", [(2, "fft"), (4, "direct"), (4, "fft")])
def test_tf_xla_compiled_step(rank, algorithm):
    """Keras's `fit` compiles the step with XLA by default where TensorFlow sees a GPU (`jit_compile="auto"`):
    every op of the plan must compile under XLA, forward and gradient."""
    import tensorflow as tf

    layer = sl.ConvND(3, 3, rank=rank, padding="same", algorithm=algorithm, kernel_initializer="zeros")
    rng = np.random.default_rng(rank)
    shape = (2, *(5,) * rank, 2)
    kernel, bias = set_random_weights(layer, shape, rng)
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape[:-1] + (3,))

    @tf.function(jit_compile=True)
    def step(x_t, g_t):
        with tf.GradientTape() as tape:
            y = layer(x_t)
            loss = tf.reduce_sum(y * g_t)
        return y, tape.gradient(loss, layer.trainable_variables)

    y, (grad_kernel, grad_bias) = step(tensor(x), tensor(g))
    pairs = reference.padding_pairs("same", shape[1:-1], (3,) * rank, 1, 1)
    expected = add_bias(reference.conv_reference(x, kernel, 1, pairs, 1), bias, "channels_last")
    assert_close(y, expected, rtol=1e-4)
    expected_kernel = linear_gradient(
        lambda k: np.sum(reference.conv_reference(x, k, 1, pairs, 1) * g), kernel
    )
    assert_close(grad_kernel, expected_kernel, rtol=1e-4)
    assert_close(grad_bias, g.reshape(-1, 3).sum(axis=0), rtol=1e-4)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.function input signatures")
def test_tf_function_with_unknown_batch_rank4():
    import tensorflow as tf

    layer, x, kernel, bias, _ = make_layer("float32")
    function = tf.function(
        layer, input_signature=[tf.TensorSpec((None, *SPATIAL, CHANNELS), tf.float32)]
    )
    for batch in (1, 3):
        inputs = np.concatenate([x] * 2)[:batch].astype("float32")
        assert_close(function(inputs), reference_forward(inputs, kernel, bias), rtol=1e-4)
