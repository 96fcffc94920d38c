"""Complex batch and layer normalisation (2x2 whitening): against a NumPy reference that whitens with
`scipy.linalg.sqrtm` (no closed form), identity covariance of the whitened parts, Keras's `training`
semantics and moving statistics, and float64 gradients w.r.t. the real and imaginary parts."""

import keras
import numpy as np
import pytest
import reference
import scipy.linalg
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    tensor,
    to_complex_numpy,
    to_numpy,
)
from conftest import autodiff_gradients

from structconv import layers
from structconv import ops as sops


def whiten_reference(z, axes, epsilon, mean=None, covariance=None):
    """complex128 `z` whitened over `axes`: for each remaining index, `inv(sqrtm(V + eps I)) (x - m, y - m)`.

    `mean` `(..., 2)` and `covariance` `(..., 2, 2)` (over the kept axes) replace the batch's statistics."""
    kept = [i for i in range(z.ndim) if i not in axes]
    moved = np.moveaxis(z, kept, list(range(len(kept))))
    out = np.empty_like(moved)
    for index in np.ndindex(*moved.shape[:len(kept)]):
        sample = moved[index].ravel()
        parts = np.stack([sample.real, sample.imag])  # (2, n)
        m = parts.mean(axis=1) if mean is None else mean[index]
        v = np.cov(parts, bias=True) if covariance is None else covariance[index]
        w = np.linalg.inv(np.real(scipy.linalg.sqrtm(v + epsilon * np.eye(2))))
        white = w @ (parts - m[:, None])
        out[index] = (white[0] + 1j * white[1]).reshape(moved[index].shape)
    return np.moveaxis(out, list(range(len(kept))), kept)


def affine_reference(z, gamma_rr, gamma_ri, gamma_ii, beta):
    x, y = z.real, z.imag
    return (gamma_rr * x + gamma_ri * y + beta[..., 0]) + 1j * (gamma_ri * x + gamma_ii * y + beta[..., 1])


def _correlated(rng, shape):
    """Complex data whose real and imaginary parts are correlated, of unequal variances, off-centre."""
    x, noise = rng.standard_normal(shape), rng.standard_normal(shape)
    return (2.0 * x + 1.5) + 1j * (0.8 * x + 0.3 * noise - 0.7)


def _set_affine(layer, rng):
    values = {w.name: rng.standard_normal(w.shape) * 0.5 + (1.0 if w.name in ("gamma_rr", "gamma_ii") else 0)
              for w in layer.trainable_weights}
    for w in layer.trainable_weights:
        w.assign(values[w.name])
    return values


@pytest.mark.parametrize("data_format", ("channels_last", "channels_first"))
def test_batch_normalization_training_forward(data_format):
    rng = np.random.default_rng(0)
    z = _correlated(rng, (16, 3, 4, 5))
    axis = -1 if data_format == "channels_last" else 1
    layer = layers.ComplexBatchNormalization(axis=axis, epsilon=1e-3, momentum=0.9, dtype="float64")
    layer.build((z.shape, z.shape))
    values = _set_affine(layer, rng)
    out = to_complex_numpy(layer(as_pair(z), training=True))
    axes = (0, 1, 2) if axis == -1 else (0, 2, 3)
    shape = [1] * 4
    shape[axis] = z.shape[axis]
    gammas = [np.reshape(values[n], shape) for n in ("gamma_rr", "gamma_ri", "gamma_ii")]
    beta = np.reshape(values["beta"], (*shape, 2))
    expected = affine_reference(whiten_reference(z, axes, 1e-3), *gammas, beta)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10 * np.abs(expected).max())
    # the moving statistics moved 10% of the way from their initial values to the batch's (biased) ones
    channels = np.moveaxis(z, axis, -1).reshape(-1, z.shape[axis])
    np.testing.assert_allclose(to_numpy(layer.moving_mean)[:, 0], 0.1 * channels.real.mean(0), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(layer.moving_mean)[:, 1], 0.1 * channels.imag.mean(0), rtol=1e-10)
    centred = channels - channels.mean(0)
    np.testing.assert_allclose(to_numpy(layer.moving_vrr), 0.9 / np.sqrt(2) + 0.1 * (centred.real**2).mean(0))
    np.testing.assert_allclose(to_numpy(layer.moving_vri), 0.1 * (centred.real * centred.imag).mean(0))
    np.testing.assert_allclose(to_numpy(layer.moving_vii), 0.9 / np.sqrt(2) + 0.1 * (centred.imag**2).mean(0))


def test_whitened_outputs_have_identity_covariance():
    """The issue's check: with `gamma` the identity and `beta` 0, each feature's (real, imag) has mean 0 and
    covariance I over the batch, up to `epsilon`'s shrinkage: complex64 input, float32 arithmetic."""
    z = _correlated(np.random.default_rng(1), (512, 4)).astype(np.complex64)
    layer = layers.ComplexBatchNormalization(epsilon=1e-6, gamma_diagonal_initializer="ones")
    out = to_complex_numpy(layer(as_complex_tensor(z), training=True))
    for feature in range(4):
        parts = np.stack([out[:, feature].real, out[:, feature].imag])
        np.testing.assert_allclose(parts.mean(axis=1), 0, atol=1e-5)
        np.testing.assert_allclose(np.cov(parts, bias=True), np.eye(2), atol=1e-4)
    raw = np.stack([z[:, 0].real, z[:, 0].imag])
    assert abs(np.corrcoef(raw)[0, 1]) > 0.9  # the input was strongly correlated


def test_inference_uses_the_moving_statistics_and_trainable_false_freezes_them():
    rng = np.random.default_rng(2)
    z = _correlated(rng, (32, 3))
    layer = layers.ComplexBatchNormalization(momentum=0.5, dtype="float64")
    for _ in range(3):
        layer(as_pair(z), training=True)
    mean, vrr, vri, vii = (to_numpy(w) for w in (layer.moving_mean, layer.moving_vrr, layer.moving_vri,
                                                 layer.moving_vii))
    covariance = np.stack([np.stack([vrr, vri], -1), np.stack([vri, vii], -1)], -2)
    expected = whiten_reference(z, (0,), 1e-3, mean=mean, covariance=covariance) / np.sqrt(2)
    for training in (False, None):
        out = to_complex_numpy(layer(as_pair(z), training=training))
        np.testing.assert_allclose(out, expected, atol=1e-10)
    layer.trainable = False
    np.testing.assert_allclose(to_complex_numpy(layer(as_pair(z), training=True)), expected, atol=1e-10)
    np.testing.assert_array_equal(to_numpy(layer.moving_mean), mean)


def test_fit_updates_the_moving_statistics():
    rng = np.random.default_rng(3)
    z = _correlated(rng, (64, 2)).astype(np.complex64)
    real, imag = keras.Input((2,)), keras.Input((2,))
    norm = layers.ComplexBatchNormalization(momentum=0.0)
    model = keras.Model([real, imag], layers.Intensity()(norm((real, imag))))
    model.compile(optimizer="sgd", loss="mse")
    model.fit([z.real, z.imag], np.ones((64, 2)), batch_size=64, epochs=1, verbose=0)
    np.testing.assert_allclose(to_numpy(norm.moving_mean)[:, 0], z.real.mean(0), rtol=1e-4)
    np.testing.assert_allclose(to_numpy(norm.moving_vii), z.imag.var(0), rtol=1e-3)


@pytest.mark.parametrize("axis", (-1, (1, 2)))
def test_layer_normalization(axis):
    rng = np.random.default_rng(4)
    z = _correlated(rng, (3, 4, 5))
    layer = layers.ComplexLayerNormalization(axis=axis, dtype="float64")
    layer.build((z.shape, z.shape))
    values = _set_affine(layer, rng)
    axes = (2,) if axis == -1 else (1, 2)
    shape = [1, 1, 5] if axis == -1 else [1, 4, 5]
    gammas = [np.reshape(values[n], shape) for n in ("gamma_rr", "gamma_ri", "gamma_ii")]
    beta = np.reshape(values["beta"], (*shape, 2))
    expected = affine_reference(whiten_reference(z, axes, 1e-3), *gammas, beta)
    for field in (as_pair(z), as_complex_tensor(z, "complex128")):
        np.testing.assert_allclose(to_complex_numpy(layer(field)), expected, rtol=0,
                                   atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("axes", ((0, 1), (1,)))
def test_standardize_gradients(axes):
    """Batch-type (over the batch and a spatial axis) and layer-type (over features) statistics."""
    rng = np.random.default_rng(5)
    z = _correlated(rng, (4, 3, 2))
    u, v = rng.standard_normal((2, *z.shape))

    def loss(a, b):
        real, imag = sops.complex_standardize((a, b), axes, epsilon=1e-3)
        return keras.ops.sum(tensor(u, "float64") * real + tensor(v, "float64") * imag ** 2)

    def reference_loss(a, b):
        y = whiten_reference(a + 1j * b, axes, 1e-3)
        return float(np.sum(u * y.real + v * y.imag**2))

    d_real, d_imag = autodiff_gradients(loss, z.real, z.imag)
    numeric_real = reference.numerical_gradient(lambda t: reference_loss(t, z.imag), z.real)
    numeric_imag = reference.numerical_gradient(lambda t: reference_loss(z.real, t), z.imag)
    for gradient, numeric in ((d_real, numeric_real), (d_imag, numeric_imag)):
        np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7 * np.abs(numeric).max())
