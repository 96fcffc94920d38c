"""Helpers shared by the layer tests: random data, weights, NumPy bias/activation, autodiff.

Everything numeric here is independent of structconv: NumPy for expected values, the active
backend's own autodiff (`torch.autograd`, `jax.grad`, `tf.GradientTape`) for gradients.
"""

import weakref

import keras
import numpy as np

BACKEND = keras.backend.backend()


def to_numpy(x):
    """Any backend's tensor (or array) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def tensor(array, dtype="float32"):
    """A backend tensor of `dtype` (NumPy float64 would otherwise become float32)."""
    return keras.ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def join_shape(batch, spatial, channels, data_format):
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def bias_shape(rank, filters, data_format):
    shape = [1] * (rank + 2)
    shape[-1 if data_format == "channels_last" else 1] = filters
    return tuple(shape)


def set_random_weights(layer, input_shape, rng, scale=1.0):
    """Builds `layer` if needed and gives every weight (bias included) random normal values; returns
    them as float64 NumPy arrays in `layer.get_weights()` order."""
    if not layer.built:
        layer.build(input_shape)
    weights = [scale * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


def add_bias(y, bias, data_format):
    """NumPy: `y + bias` broadcast on the channel axis."""
    return y + np.reshape(bias, bias_shape(y.ndim - 2, len(bias), data_format))


NUMPY_ACTIVATIONS = {
    None: lambda y: y,
    "linear": lambda y: y,
    "tanh": np.tanh,
    "relu": lambda y: np.maximum(y, 0.0),
    "sigmoid": lambda y: 1.0 / (1.0 + np.exp(-y)),
}


def assert_close(actual, expected, rtol=1e-5, atol=None):
    """`actual` (any tensor) against `expected` (NumPy): same shape, values within a tolerance
    scaled by the largest expected magnitude."""
    actual = to_numpy(actual).astype(np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(
        actual, expected, rtol=rtol, atol=rtol * scale if atol is None else atol
    )


_JITTED = weakref.WeakKeyDictionary()


def call_layer(layer, x):
    """`layer(x)`; on JAX through `jax.jit` of `stateless_call`, which compiles the layer once
    instead of every primitive op for each new shape (several times faster for the many shapes of
    these tests)."""
    if BACKEND != "jax":
        return layer(x)
    if layer not in _JITTED:
        import jax

        def forward(trainable, non_trainable, inputs):
            return layer.stateless_call(trainable, non_trainable, inputs)[0]

        _JITTED[layer] = jax.jit(forward)
    return _JITTED[layer](
        [v.value for v in layer.trainable_variables],
        [v.value for v in layer.non_trainable_variables],
        x,
    )


def run_layer_test(layer, input_shape, expected_fn, rng, *, dtype="float64", rtol=None):
    """Builds `layer`, sets random weights, runs it on a random input, checks `expected_fn`.

    `expected_fn(x, weights)` gets the float64 NumPy input and weights and returns the expected
    output. The output shape must also equal `layer.compute_output_shape(input_shape)`. Returns
    `(x, weights, y)`. On JAX the layer runs under `jax.jit` (see `call_layer`); eager calls are
    covered by the Keras equivalence tests.
    """
    x = rng.standard_normal(input_shape)
    weights = set_random_weights(layer, input_shape, rng)
    y = call_layer(layer, tensor(x, dtype))
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    expected = expected_fn(x, weights)
    if rtol is None:
        rtol = 1e-10 if dtype == "float64" else 1e-4
    assert_close(y, expected, rtol=rtol)
    assert tuple(layer.compute_output_shape(input_shape)) == tuple(y.shape)
    return x, weights, y


def autodiff(layer, x, cotangent, dtype="float64"):
    """Gradients of `sum(layer(x) * cotangent)` with respect to `x` and to each trainable weight, by
    the active backend's own autodiff; returned as NumPy arrays `(grad_x, [grad_w, ...])`.

    JAX differentiates `stateless_call` under `jax.jit`; TensorFlow records the tape inside a
    `tf.function`, as Keras's own training step does (eager tapes are tested in
    `test_framework_fit.py`).
    """
    if BACKEND == "torch":
        import torch

        x_t = tensor(x, dtype).detach().requires_grad_(True)
        for variable in layer.trainable_variables:
            variable.value.grad = None
        loss = torch.sum(layer(x_t) * tensor(cotangent, dtype))
        loss.backward()
        return to_numpy(x_t.grad), [to_numpy(v.value.grad) for v in layer.trainable_variables]
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, x_j, g):
            y, _ = layer.stateless_call(trainable, non_trainable, x_j)
            return jnp.sum(y * g)

        grad_w, grad_x = jax.jit(jax.grad(loss, argnums=(0, 1)))(
            [v.value for v in layer.trainable_variables], tensor(x, dtype), tensor(cotangent, dtype)
        )
        return to_numpy(grad_x), [to_numpy(g) for g in grad_w]
    import tensorflow as tf

    @tf.function
    def gradients(x_t, g):
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(layer(x_t) * g)
        return tape.gradient(loss, [x_t, *layer.trainable_variables])

    grad_x, *grad_w = gradients(tensor(x, dtype), tensor(cotangent, dtype))
    return to_numpy(grad_x), [to_numpy(g) for g in grad_w]


def linear_gradient(function, point):
    """Exact gradient of a function linear in `point` (NumPy): `f(e_i)` for each basis vector.

    For `sum(conv(x, kernel) * g)` this is the gradient with respect to the kernel, computed from
    any reference convolution without finite-difference error.
    """
    point = np.asarray(point, np.float64)
    gradient = np.zeros(point.size)
    basis = np.zeros(point.size)
    for i in range(point.size):
        basis[i] = 1.0
        gradient[i] = function(basis.reshape(point.shape))
        basis[i] = 0.0
    return gradient.reshape(point.shape)
