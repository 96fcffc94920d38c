"""The optics layers (`FreeSpacePropagation`, `ThinLens`, `Aperture`) as Keras layers: configs, `.keras`
files loaded with `safe_mode=True` (pair and complex inputs, a trained distance kept), mixed precision, and
argument errors, eager and symbolic."""

import keras
import numpy as np
import pytest
from complex.complex_helpers import as_pair, random_complex, to_complex_numpy, to_numpy

from structconv import layers
from structconv import ops as sops
from structconv.errors import StructconvError

CASES = {
    "FreeSpacePropagation": lambda: layers.FreeSpacePropagation(
        300e-6, 0.5e-6, (2e-6, 1e-6), approximation="fresnel", band_limit=True, padding=(2, 3)),
    "FreeSpacePropagation_trainable": lambda: layers.FreeSpacePropagation(
        150e-6, 0.5e-6, 2e-6, trainable_distance=True, data_format="channels_first"),
    "ThinLens": lambda: layers.ThinLens(0.01, 0.5e-6, 4e-6),
    "Aperture": lambda: layers.Aperture(6e-6, 2e-6, shape="square"),
}
SHAPE = (2, 8, 8, 1)


def _field(seed=0):
    return random_complex(np.random.default_rng(seed), SHAPE).astype(np.complex64)


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip(name):
    layer = CASES[name]()
    layer.build((SHAPE, SHAPE))
    if layer.weights:
        layer.set_weights([np.array(170e-6)])
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build((SHAPE, SHAPE))
    clone.set_weights(layer.get_weights())
    z = _field()
    np.testing.assert_array_equal(to_complex_numpy(clone(as_pair(z, "float32"))),
                                  to_complex_numpy(layer(as_pair(z, "float32"))))
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == config


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file(name, tmp_path):
    real, imag = keras.Input(SHAPE[1:]), keras.Input(SHAPE[1:])
    complex_input = keras.Input(SHAPE[1:], dtype="complex64")
    layer = CASES[name]()
    outputs = [*layer((real, imag)), layer(complex_input)]
    model = keras.Model([real, imag, complex_input], outputs, name=f"optics_{name}")
    if layer.weights:
        layer.set_weights([np.array(170e-6)])
    z = _field(1)
    inputs = [z.real, z.imag, z]
    expected = model.predict(inputs, verbose=0)
    assert expected[2].dtype == np.complex64
    np.testing.assert_allclose(expected[0] + 1j * expected[1], expected[2], rtol=0,
                               atol=1e-5 * np.abs(z).max())
    model.save(tmp_path / "optics.keras")
    loaded = keras.saving.load_model(tmp_path / "optics.keras", safe_mode=True)
    for e, a in zip(expected, loaded.predict(inputs, verbose=0)):
        np.testing.assert_array_equal(a, e)
    restored = loaded.layers[-1]
    assert restored.get_config() == layer.get_config()
    assert [to_numpy(w).item() for w in restored.weights] == [to_numpy(w).item() for w in layer.weights]


@pytest.mark.parametrize("policy", ("mixed_float16", "mixed_bfloat16"))
@pytest.mark.parametrize("name", sorted(CASES))
def test_mixed_precision(policy, name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        layer = CASES[name]()
        z = _field(2)
        out = layer(as_pair(z, "float32"))
        compute = keras.config.dtype_policy().compute_dtype
        assert all(keras.backend.standardize_dtype(part.dtype) == compute for part in out)
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
        config = layer.get_config()
        config["dtype"] = "float32"
        twin = type(layer).from_config(config)
        expected = to_complex_numpy(twin(as_pair(z, "float32")))
        # one rounding of the input and of the output to the compute dtype
        tolerance = {"float16": 5e-3, "bfloat16": 4e-2}[compute]
        np.testing.assert_allclose(to_complex_numpy(out), expected, rtol=0,
                                   atol=tolerance * np.abs(expected).max())
    finally:
        keras.config.set_dtype_policy(previous)


def test_trainable_distance_learns_a_focus():
    """Fitting the distance: the intensity after a lens is sharpest at the focal length; the layer's
    distance, started 30% short, moves towards it under Keras's fit."""
    n, pitch, wavelength, focal = 32, 4e-6, 0.5e-6, 2e-3
    coordinates = (np.arange(n) - (n - 1) / 2) * pitch
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    beam = np.exp(-(x**2 + y**2) / (40e-6) ** 2)[None, :, :, None].astype("float32")
    target = np.abs(to_complex_numpy(sops.free_space_propagation(
        sops.thin_lens(as_pair(beam, "float64"), focal, wavelength, pitch), focal, wavelength, pitch))) ** 2
    inputs = keras.Input((n, n, 1))
    field = layers.ThinLens(focal, wavelength, pitch)((inputs, keras.ops.zeros_like(inputs)))
    propagation = layers.FreeSpacePropagation(0.7 * focal, wavelength, pitch, trainable_distance=True)
    model = keras.Model(inputs, layers.Intensity()(propagation(field)))
    # distances in metres: Adam moves the distance by about its learning rate, 20 um, per step
    scale = 1 / float(np.mean(target**2))
    model.compile(optimizer=keras.optimizers.Adam(2e-5),
                  loss=lambda t, p: scale * keras.ops.mean((t - p) ** 2))
    before = abs(to_numpy(propagation.distance_variable).item() - focal)
    model.fit(beam, target, epochs=40, verbose=0)
    after = abs(to_numpy(propagation.distance_variable).item() - focal)
    assert after < 0.3 * before, (before, after)


def test_errors():
    z = as_pair(np.ones((1, 4, 4, 1)))
    fsp = layers.FreeSpacePropagation
    checks = (
        (lambda: fsp("far", 0.5e-6, 1e-6), "distance"),
        (lambda: fsp(1e-3, 0.0, 1e-6), "wavelength"),
        (lambda: fsp(1e-3, 0.5e-6, (1e-6, 1e-6, 1e-6)), "pixel_pitch"),
        (lambda: fsp(1e-3, 0.5e-6, 1e-6, approximation="fraunhofer"), "approximation"),
        (lambda: fsp(1e-3, 0.5e-6, 1e-6, padding=-1), "padding"),
        (lambda: fsp(1e-3, 0.5e-6, 1e-6, data_format="nhwc"), "data_format"),
        (lambda: sops.free_space_propagation((np.ones((4, 4)), np.ones((4, 4))), 1e-3, 0.5e-6, 1e-6),
         "field"),
        (lambda: sops.free_space_propagation((np.ones((1, 4, 4, 1)), np.ones((1, 4, 5, 1))), 1e-3, 0.5e-6,
                                             1e-6), "field"),
        (lambda: fsp(1e-3, 0.5e-6, 1e-6)(keras.Input((None, 4, 1), dtype="complex64")),
         "field"),
    )
    for call, name in checks:
        with pytest.raises(StructconvError, match=f"`{name}`"):
            call()
    with pytest.raises(TypeError, match="`field`"):
        sops.free_space_propagation(np.ones((1, 4, 4, 1), "float32"), 1e-3, 0.5e-6, 1e-6)
    # a symbolic pair of the wrong rank fails when the model is built, naming the argument
    with pytest.raises(StructconvError, match="`field`"):
        fsp(1e-3, 0.5e-6, 1e-6)((keras.Input((4, 4)), keras.Input((4, 4))))
    assert z[0].shape == (1, 4, 4, 1)
