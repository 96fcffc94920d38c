"""The complex network layers as Keras layers: `ComplexDense` against NumPy with float64 gradients
w.r.t. its input and variables, `ComplexDropout`'s joint mask, and for every layer the config round trip,
`.keras` files loaded with `safe_mode=True` (pair and complex inputs) and mixed precision."""

import keras
import numpy as np
import pytest
import reference
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    random_complex,
    tensor,
    to_complex_numpy,
    to_numpy,
)
from conftest import autodiff_gradients

from structconv import layers
from structconv import ops as sops

CASES = {  # name -> (factory, shape of one part)
    "ComplexDense": (lambda: layers.ComplexDense(3, bias_initializer="random_normal",
                                                 kernel_initializer="complex_he"), (2, 4)),
    "ComplexActivation": (lambda: layers.ComplexActivation("cardioid"), (2, 3, 4)),
    "ModReLU": (lambda: layers.ModReLU(bias_initializer=keras.initializers.Constant(-0.3)), (2, 5, 3)),
    "ComplexDropout": (lambda: layers.ComplexDropout(0.3, seed=1), (2, 6)),
    "ComplexMaxPooling2D": (lambda: layers.ComplexMaxPooling2D((2, 3), strides=(1, 2), padding="same"),
                            (2, 5, 6, 2)),
    "ComplexAveragePooling": (lambda: layers.ComplexAveragePooling(2, rank=1, data_format="channels_first"),
                              (2, 3, 6)),
    "ComplexBatchNormalization": (lambda: layers.ComplexBatchNormalization(momentum=0.5, center=False),
                                  (4, 3, 3, 2)),
    "ComplexLayerNormalization": (lambda: layers.ComplexLayerNormalization(axis=(1, 2)), (2, 3, 4)),
    "ComplexConv2DTranspose": (lambda: layers.ComplexConv2DTranspose(2, 3, strides=2, padding="same",
                                                                     method="naive"), (1, 3, 4, 2)),
    "ComplexConvNDTranspose": (lambda: layers.ComplexConvNDTranspose(
        2, 2, rank=1, output_padding=1, strides=2, data_format="channels_first", use_bias=False), (2, 3, 5)),
}


def _field(shape, seed=0):
    return random_complex(np.random.default_rng(seed), shape).astype(np.complex64)


def _randomize(layer, seed):
    rng = np.random.default_rng(seed)
    layer.set_weights([w + 0.3 * rng.standard_normal(w.shape) for w in layer.get_weights()])


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip(name):
    factory, shape = CASES[name]
    layer = factory()
    layer.build((shape, shape))
    _randomize(layer, 0)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build((shape, shape))
    clone.set_weights(layer.get_weights())
    z = _field(shape)
    for field in (as_pair(z, "float32"), as_complex_tensor(z)):
        np.testing.assert_array_equal(to_complex_numpy(clone(field)), to_complex_numpy(layer(field)))
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == config


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file(name, tmp_path):
    factory, shape = CASES[name]
    real, imag = keras.Input(shape[1:]), keras.Input(shape[1:])
    complex_input = keras.Input(shape[1:], dtype="complex64")
    layer = factory()
    model = keras.Model([real, imag, complex_input], [*layer((real, imag)), layer(complex_input)])
    _randomize(layer, 1)
    z = _field(shape, 1)
    inputs = [z.real, z.imag, z]
    expected = model.predict(inputs, verbose=0)
    assert expected[2].dtype == np.complex64
    np.testing.assert_allclose(expected[0] + 1j * expected[1], expected[2], rtol=0, atol=1e-5)
    model.save(tmp_path / "complex.keras")
    loaded = keras.saving.load_model(tmp_path / "complex.keras", safe_mode=True)
    for e, a in zip(expected, loaded.predict(inputs, verbose=0)):
        np.testing.assert_array_equal(a, e)
    assert loaded.layers[-1].get_config() == layer.get_config()


@pytest.mark.parametrize("policy", ("mixed_float16", "mixed_bfloat16"))
@pytest.mark.parametrize("name", sorted(CASES))
def test_mixed_precision(policy, name):
    factory, shape = CASES[name]
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        layer = factory()
        layer.build((shape, shape))
        _randomize(layer, 2)
        z = _field(shape, 2)
        out = layer(as_pair(z, "float32"), training=True) if "Normalization" in name else layer(
            as_pair(z, "float32"))
        compute = keras.config.dtype_policy().compute_dtype
        assert all(keras.backend.standardize_dtype(part.dtype) == compute for part in out)
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
        config = {**layer.get_config(), "dtype": "float32"}
        twin = type(layer).from_config(config)
        twin.build((shape, shape))
        twin.set_weights(layer.get_weights())
        if "Batch" in name:  # inference with the statistics the training call left, in both
            out = layer(as_pair(z, "float32"))
        expected = to_complex_numpy(twin(as_pair(z, "float32")))
        tolerance = {"float16": 1e-2, "bfloat16": 6e-2}[compute]
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0,
                                   atol=tolerance * max(np.abs(expected).max(), 1.0))
    finally:
        keras.config.set_dtype_policy(previous)


def test_complex_dense_against_numpy_and_gradients():
    rng = np.random.default_rng(3)
    layer = layers.ComplexDense(3, dtype="float64")
    x = random_complex(rng, (2, 4))
    layer.build((x.shape, x.shape))
    _randomize(layer, 3)
    kernel, bias = layer.get_weights()
    w, b = kernel[..., 0] + 1j * kernel[..., 1], bias[:, 0] + 1j * bias[:, 1]
    for field in (as_pair(x), as_complex_tensor(x, "complex128")):
        np.testing.assert_allclose(to_complex_numpy(layer(field)), x @ w + b, rtol=0, atol=1e-12)
    u, v = rng.standard_normal((2, 2, 3))

    def loss(a, c, kernel, bias):
        real, imag = sops.complex_matmul((a, c), (kernel[..., 0], kernel[..., 1]))
        real, imag = real + bias[:, 0], imag + bias[:, 1]
        weighted = tensor(u, "float64") * real + tensor(v, "float64") * sops.intensity((real, imag))
        return keras.ops.sum(weighted)

    def reference_loss(a, c, kernel, bias):
        y = (a + 1j * c) @ (kernel[..., 0] + 1j * kernel[..., 1]) + bias[:, 0] + 1j * bias[:, 1]
        return float(np.sum(u * y.real + v * np.abs(y) ** 2))

    arrays = [x.real, x.imag, kernel, bias]
    gradients = autodiff_gradients(loss, *arrays)
    for index, gradient in enumerate(gradients):
        numeric = reference.numerical_gradient(
            lambda t, index=index: reference_loss(*[t if i == index else a for i, a in enumerate(arrays)]),
            arrays[index])
        np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7 * np.abs(numeric).max())


def test_complex_dropout_drops_whole_numbers():
    z = _field((64, 32), 4) + (1 + 1j)  # no zero parts to begin with
    layer = layers.ComplexDropout(0.25, seed=3)
    real, imag = (to_numpy(p) for p in layer(as_pair(z, "float32"), training=True))
    dropped = real == 0
    np.testing.assert_array_equal(dropped, imag == 0)
    assert 0.2 < dropped.mean() < 0.3
    np.testing.assert_allclose((real + 1j * imag)[~dropped], z[~dropped] / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(to_complex_numpy(layer(as_complex_tensor(z), training=False)), z)
    out = to_complex_numpy(layers.ComplexDropout(0.5, noise_shape=(64, 1), seed=0)(as_pair(z), training=True))
    assert np.all((out == 0).all(axis=1) | (out != 0).all(axis=1))  # whole rows


def test_errors_name_the_argument():
    from structconv.errors import StructconvError

    checks = (
        (lambda: layers.ComplexDropout(1.0), "rate"),
        (lambda: layers.ComplexActivation("relu"), "activation"),
        (lambda: layers.ComplexMaxPooling2D(2, padding="full"), "padding"),
        (lambda: layers.ComplexAveragePooling(2, rank=4), "rank"),
        (lambda: layers.ComplexMaxPooling2D((2, 2, 2)), "pool_size"),
        (lambda: layers.ComplexConv2DTranspose(2, 3, method="fast"), "method"),
        (lambda: layers.ComplexConv2DTranspose(2, 3, activation="relu"), "activation"),
        (lambda: layers.ComplexLayerNormalization(axis="last"), "axis"),
        (lambda: sops.complex_max_pool_by_magnitude((np.ones((2, 3)), np.ones((2, 3))), 2), "inputs"),
        (lambda: sops.complex_matmul((np.ones((2, 3)), np.ones((2, 4))), (np.ones((3, 1)),) * 2), "x"),
    )
    for call, name in checks:
        with pytest.raises(StructconvError, match=f"`{name}`"):
            call()
    with pytest.raises(TypeError, match="`z`"):
        sops.crelu(np.ones((2, 3), "float32"))
