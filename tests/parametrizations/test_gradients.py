"""Gradients of the parametrizations and of parametrized layers, by the backend's own autodiff
(`jax.grad`, `tf.GradientTape`, `torch.autograd`), against float64 central finite differences."""

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import (
    CASE_NAMES,
    KERNEL_SHAPE,
    backend_grad,
    build,
    cases,
    f64,
    finite_differences,
    random_free,
)

from structconv import layers
from structconv import parametrizations as P


def _loss_weights(shape, rng):
    return f64(rng.standard_normal(shape)), f64(rng.standard_normal(shape))


def _quadratic(y, w, v):
    """A scalar loss that is neither linear nor symmetric in `y` (polynomial: exact in float64 on every
    backend, unlike `tanh`, which Keras computes in float32 on JAX)."""
    return keras.ops.sum(y * w) + 0.5 * keras.ops.sum(y * y * v)


def _compare(grad, reference, what):
    scale = max(float(np.abs(reference).max()), 1.0)
    np.testing.assert_allclose(grad, reference, rtol=1e-6, atol=1e-7 * scale, err_msg=what)
    assert np.abs(reference).max() > 1e-3, f"{what}: a vanishing gradient checks nothing"


@pytest.mark.parametrize("name", CASE_NAMES)
def test_forward_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    p = build(name)
    w, v = _loss_weights(KERNEL_SHAPE, rng)

    def loss(free):
        return _quadratic(p.forward(keras.ops.convert_to_tensor(free, dtype="float64")), w, v)

    free = random_free(name, rng)
    _compare(backend_grad(loss, free), finite_differences(loss, free), name)


def test_unit_norm_gradient_at_zero_is_finite():
    p = P.UnitNorm().build(KERNEL_SHAPE)
    w = f64(np.random.default_rng(0).standard_normal(KERNEL_SHAPE))

    def loss(free):
        return keras.ops.sum(p.forward(keras.ops.convert_to_tensor(free, dtype="float64")) * w)

    assert np.all(np.isfinite(backend_grad(loss, np.zeros(KERNEL_SHAPE))))


# Layers: the rank-generic classes, with every case and a transposed layer with a few.
LAYER_CASES = [("conv", name) for name in CASE_NAMES] + [
    ("transpose", "zero_sum"),
    ("transpose", "mask_in_out"),
    ("transpose", "zero_sum_unit_norm"),
]


@pytest.mark.parametrize("kind, name", LAYER_CASES)
def test_layer_gradient_matches_finite_differences(kind, name):
    """d loss(layer(x)) / d free_kernel through the layer's `call` (with `stateless_call`, the way Keras
    trainers differentiate), against finite differences of the same call."""
    rng = np.random.default_rng(sum(map(ord, kind + name)))
    parametrization = cases()[name]
    if kind == "conv":
        layer = layers.ConvND(2, 3, rank=2, dtype="float64", kernel_parametrization=parametrization)
        x = rng.standard_normal((2, 5, 5, 2))
    else:
        # kernel (3, 3, filters=2, in_channels=2): the same shape as the cases are built for
        layer = layers.ConvNDTranspose(
            2, 3, rank=2, strides=2, padding="same", dtype="float64", kernel_parametrization=parametrization
        )
        x = rng.standard_normal((2, 3, 3, 2))
    layer.build(x.shape)
    assert [v.name for v in layer.trainable_variables] == ["free_kernel", "bias"]
    bias = f64(rng.standard_normal(2))
    x = f64(x)
    y_shape = tuple(layer.compute_output_shape(x.shape))
    w, v = _loss_weights(y_shape, rng)

    def loss(free):
        free = keras.ops.convert_to_tensor(free, dtype="float64")
        y, _ = layer.stateless_call([free, bias], [], x)
        return _quadratic(y, w, v)

    free = random_free(name, rng)
    _compare(backend_grad(loss, free), finite_differences(loss, free), f"{kind} {name}")
