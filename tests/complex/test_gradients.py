"""Gradients by float64 central differences: through `ops.complex_conv` w.r.t. the real and imaginary
parts of input and kernel (every method, grouped too), through a `ComplexConv2D` layer w.r.t. its input
and variables (plain and phase-only kernels), and of `intensity` (finite at 0, `2 re`, `2 im` elsewhere).

The losses are quadratic in each operand, so central differences are exact up to rounding. The backend's
autodiff gradient is compared entry by entry with central differences of the NumPy reference, and along a
few random directions with central differences of the library itself.
"""

import keras
import numpy as np
import pytest
import reference
from complex.complex_helpers import (
    BACKEND,
    compiled,
    complex_conv_reference,
    dtype_name,
    tensor,
    to_numpy,
)
from conftest import autodiff_gradients, torch_device

from structconv import layers
from structconv import ops as sops
from structconv.parametrizations import UnitModulus

KWARGS = {"strides": (2, 1), "padding": "same", "dilation_rate": (1, 2)}
DIRECTIONS = 3


def _problem(groups):
    rng = np.random.default_rng(groups)
    channels, filters = 2 * groups, 2 * groups
    arrays = [rng.standard_normal((1, 5, 6, channels)), rng.standard_normal((1, 5, 6, channels)),  # a, b
              rng.standard_normal((2, 3, 2, filters)), rng.standard_normal((2, 3, 2, filters))]  # c, d
    shape = _reference(arrays, groups).shape
    weights = [rng.standard_normal(shape) for _ in range(3)]
    return arrays, weights


def _reference(arrays, groups):
    a, b, c, d = arrays
    return complex_conv_reference(a + 1j * b, c + 1j * d, strides=(2, 1), padding="same", dilation=(1, 2),
                                  groups=groups)


def _reference_loss(arrays, weights, groups):
    y = _reference(arrays, groups)
    u, v, w = weights
    return float(np.sum(u * y.real + v * y.imag + w * np.abs(y) ** 2))


def _library_loss(method, weights, groups):
    u, v, w = (tensor(t, "float64") for t in weights)

    def loss(a, b, c, d):
        real, imag = sops.complex_conv((a, b), (c, d), method=method, groups=groups, **KWARGS)
        return keras.ops.sum(u * real + v * imag + w * sops.intensity((real, imag)))

    return loss


def _check_directions(gradient, array, function, seed, count=DIRECTIONS, rtol=1e-8, eps=1e-3):
    """Central differences of the library itself along random directions: `<gradient, direction>`."""
    for direction in np.random.default_rng(seed).standard_normal((count, *array.shape)):
        numeric = reference.numerical_directional_derivative(function, array, direction, eps=eps)
        expected = float(np.sum(gradient * direction))
        assert abs(numeric - expected) <= rtol * max(abs(expected), np.abs(gradient).sum(), 1.0), (
            numeric, expected)


def _check_gradients(method, groups):
    arrays, weights = _problem(groups)
    loss = _library_loss(method, weights, groups)
    gradients = autodiff_gradients(loss, *arrays)
    numeric_loss = compiled(loss)
    for index, (array, gradient) in enumerate(zip(arrays, gradients)):
        assert gradient.shape == array.shape

        def replace(value, index=index):
            return [value if i == index else a for i, a in enumerate(arrays)]

        from_reference = reference.numerical_gradient(
            lambda value, replace=replace: _reference_loss(replace(value), weights, groups), array, eps=1e-3)
        scale = max(np.abs(from_reference).max(), 1.0)
        np.testing.assert_allclose(gradient, from_reference, rtol=0, atol=1e-8 * scale)
        _check_directions(gradient, array, lambda value, replace=replace: float(
            to_numpy(numeric_loss(*(tensor(t, "float64") for t in replace(value))))), seed=index)


@pytest.mark.parametrize("method", ("naive", "gauss", "block", "auto"))
def test_complex_conv_gradients(method):
    _check_gradients(method, groups=1)


def test_grouped_complex_conv_gradients():
    """groups=2 (TensorFlow's CPU kernels have no gradient of a grouped float64 Conv2D: the library must
    split the groups itself)."""
    for method in ("naive", "gauss", "block"):
        _check_gradients(method, groups=2)


def _layer_gradients(layer, inputs, loss):
    """Autodiff of `loss(layer(inputs))` w.r.t. each input array and each trainable variable."""
    variables = layer.trainable_variables
    if BACKEND == "jax":
        import jax

        def function(values, inputs):
            outputs, _ = layer.stateless_call(values, [v.value for v in layer.non_trainable_variables],
                                              inputs)
            return loss(outputs)

        values = [v.value for v in variables]
        inputs = tuple(tensor(x, "float64") for x in inputs)
        by_variable, by_input = jax.jit(jax.grad(function, argnums=(0, 1)))(values, inputs)
        return [np.asarray(g) for g in by_input], [np.asarray(g) for g in by_variable]
    if BACKEND == "torch":
        import torch

        inputs = tuple(torch.tensor(x, dtype=torch.float64, device=torch_device(), requires_grad=True)
                       for x in inputs)
        values = [v.value for v in variables]
        gradients = torch.autograd.grad(loss(layer(inputs)), [*inputs, *values])
        gradients = [g.detach().cpu().numpy() for g in gradients]
        return gradients[: len(inputs)], gradients[len(inputs):]
    import tensorflow as tf

    inputs = tuple(tf.constant(x, dtype=tf.float64) for x in inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = loss(layer(inputs))
    gradients = [g.numpy() for g in tape.gradient(value, [*inputs, *variables])]
    return gradients[: len(inputs)], gradients[len(inputs):]


@pytest.mark.parametrize("parametrization", (None, "unit_modulus"))
def test_complex_conv2d_layer_gradients(parametrization):
    """Gradients w.r.t. the input pair, the kernel (or, phase-only, its free phase) and the complex bias,
    all in float64 (the phase-only kernel too, see test_layers.py)."""
    rng = np.random.default_rng(1)
    layer = layers.ComplexConv2D(
        4, 3, padding="same", strides=(1, 2), dtype="float64",
        kernel_parametrization=UnitModulus() if parametrization else None, kernel_initializer="ones",
    )
    inputs = (rng.standard_normal((1, 4, 5, 2)), rng.standard_normal((1, 4, 5, 2)))
    layer.build((inputs[0].shape, inputs[1].shape))
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])
    weights = [tensor(rng.standard_normal((1, 4, 3, 4)), "float64") for _ in range(2)]

    def loss(outputs):
        real, imag = outputs
        return keras.ops.sum(weights[0] * real + weights[1] * sops.intensity((real, imag)))

    by_input, by_variable = _layer_gradients(layer, inputs, loss)
    assert len(by_variable) == 2  # the kernel (or its free phase) and the bias
    assert dtype_name(layer.kernel[0]) == "float64"
    rtol = 1e-8
    forward = _forward_loss(layer, loss)
    numpy_weights = [to_numpy(w) for w in weights]
    values = [to_numpy(v) for v in layer.trainable_variables]
    operands = [*inputs, *values]
    for index, (array, gradient) in enumerate(zip(operands, [*by_input, *by_variable])):
        def changed(value, index=index):
            return [value if i == index else a for i, a in enumerate(operands)]

        assert gradient.shape == array.shape, index
        # the loss is quadratic in every operand but the phase, where a smaller step keeps the O(eps^2)
        # truncation error of central differences below the tolerance
        eps = 1e-5 if parametrization and index == 2 else 1e-3
        from_reference = reference.numerical_gradient(
            lambda value: _layer_reference_loss(changed(value), numpy_weights, parametrization), array,
            eps=eps)
        scale = max(np.abs(from_reference).max(), 1.0)
        np.testing.assert_allclose(gradient, from_reference, rtol=0, atol=rtol * scale,
                                   err_msg=f"operand {index}")
        _check_directions(gradient, array, lambda value: forward(changed(value)[2:], changed(value)[:2]),
                          seed=index, count=2, rtol=rtol, eps=eps)


def _layer_reference_loss(operands, weights, parametrization):
    """NumPy: the loss of `ComplexConv2D(4, 3, padding="same", strides=(1, 2))` with a complex bias."""
    a, b, kernel, bias = operands
    if parametrization:
        kernel = np.stack([np.cos(kernel), np.sin(kernel)], -1)
    y = complex_conv_reference(a + 1j * b, kernel[..., 0] + 1j * kernel[..., 1], strides=(1, 2),
                               padding="same")
    y = y + (bias[:, 0] + 1j * bias[:, 1])
    return float(np.sum(weights[0] * y.real + weights[1] * np.abs(y) ** 2))


def _forward_loss(layer, loss):
    """`loss(layer(inputs))` as a float, for given values of the layer's trainable variables."""
    if BACKEND == "jax":
        import jax

        jitted = jax.jit(lambda values, inputs: loss(layer.stateless_call(values, [], inputs)[0]))
        return lambda values, inputs: float(jitted([tensor(v, "float64") for v in values],
                                                   tuple(tensor(x, "float64") for x in inputs)))

    def forward(values, inputs):
        for variable, value in zip(layer.trainable_variables, values):
            variable.assign(value)
        return float(to_numpy(loss(layer(tuple(tensor(x, "float64") for x in inputs)))))

    return forward


def test_intensity_gradient():
    real = np.array([0.0, 0.0, 1.5, -2.0, 0.0, 3.0])
    imag = np.array([0.0, -1.0, 0.0, 0.5, 0.0, -4.0])
    d_real, d_imag = autodiff_gradients(lambda re, im: keras.ops.sum(sops.intensity((re, im))), real, imag)
    assert np.all(np.isfinite(d_real)) and np.all(np.isfinite(d_imag))
    np.testing.assert_array_equal(d_real, 2 * real)  # 0 exactly where the field is 0
    np.testing.assert_array_equal(d_imag, 2 * imag)
    # and through the layer, weighted
    weights = np.array([1.0, 2.0, -1.0, 0.5, 3.0, 1.0])
    detector = layers.Intensity(dtype="float64")
    d_real, d_imag = autodiff_gradients(
        lambda re, im: keras.ops.sum(detector((re, im)) * tensor(weights, "float64")), real, imag)
    np.testing.assert_allclose(d_real, 2 * weights * real)
    np.testing.assert_allclose(d_imag, 2 * weights * imag)


def test_gradients_through_complex_tensors():
    """Story 1 in complex tensors (complex128): the gradient flows through the building of complex tensors
    from real parts (a cast on every backend) and back, w.r.t. the image, the modulation phase and the
    kernel phase, and equals central differences of the NumPy reference."""
    from structconv.ops.complex_conv import cos_sin, join_complex

    rng = np.random.default_rng(5)
    x, modulation, kernel_phase = rng.random((1, 5, 5, 1)), rng.uniform(-3, 3, (5, 5, 1)), rng.uniform(
        -3, 3, (3, 3, 1, 2))
    weights = rng.standard_normal((1, 5, 5, 2))

    def loss(x, modulation, kernel_phase):
        cos, sin = cos_sin(modulation)
        field = join_complex(x * cos, x * sin, as_pair=False)
        kernel = join_complex(*cos_sin(kernel_phase), as_pair=False)
        y = sops.complex_conv(field, kernel, padding="same")
        assert dtype_name(y) == "complex128"
        return keras.ops.sum(tensor(weights, "float64") * sops.intensity(y))

    def reference_loss(x, modulation, kernel_phase):
        y = complex_conv_reference(x * np.exp(1j * modulation), np.exp(1j * kernel_phase), padding="same")
        return float(np.sum(weights * np.abs(y) ** 2))

    arrays = [x, modulation, kernel_phase]
    for index, gradient in enumerate(autodiff_gradients(loss, *arrays)):
        def changed(value, index=index):
            return reference_loss(*(value if i == index else a for i, a in enumerate(arrays)))

        expected = reference.numerical_gradient(changed, arrays[index], eps=1e-5)
        np.testing.assert_allclose(gradient, expected, rtol=0, atol=1e-8 * np.abs(expected).max(),
                                   err_msg=f"operand {index}")
