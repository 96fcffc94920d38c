"""Configs and `.keras` files (loaded with `safe_mode=True`): the complex layers and the story-1 model come
back with their configs and exactly their outputs, for pair and complex-tensor inputs."""

import keras
import numpy as np
import pytest
from complex.complex_helpers import (
    as_complex_tensor,
    as_pair,
    call_layer,
    random_complex,
    story_one_model,
    to_complex_numpy,
    to_numpy,
)

from structconv import layers
from structconv.parametrizations import UnitModulus, UnitNorm

# name -> (layer factory, input shape of one part); each exercises arguments the config must carry.
CASES = {
    "ComplexConvND": (
        lambda: layers.ComplexConvND(4, (3, 2), rank=2, strides=(2, 1), padding=("same", (1, 0)),
                                     padding_mode="reflect", groups=2, method="gauss",
                                     bias_initializer="random_normal", kernel_initializer="complex_he"),
        (2, 7, 6, 2),
    ),
    "ComplexConv1D": (
        lambda: layers.ComplexConv1D(2, 3, dilation_rate=2, padding="causal", method="naive",
                                     kernel_parametrization=UnitModulus()),
        (2, 9, 3),
    ),
    "ComplexConv2D": (
        lambda: layers.ComplexConv2D(3, 3, padding="same", data_format="channels_first",
                                     kernel_parametrization=UnitNorm(axis=-1),
                                     bias_initializer="random_normal"),
        (1, 2, 5, 6),
    ),
    "ComplexConv3D": (
        lambda: layers.ComplexConv3D(2, 2, strides=2, padding="valid", padding_mode="circular",
                                     use_bias=False, method="block"),
        (1, 4, 4, 4, 2),
    ),
}


def _random_field(shape, seed=0):
    return random_complex(np.random.default_rng(seed), shape).astype(np.complex64)


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip(name):
    factory, shape = CASES[name]
    keras.utils.set_random_seed(0)
    layer = factory()
    layer.build((shape, shape))
    z = _random_field(shape)
    inputs = (as_pair(z, "float32"), as_complex_tensor(z))
    expected_pair, expected_complex = (to_complex_numpy(out) for out in call_layer(layer, *inputs))
    scale = np.abs(expected_pair).max()
    np.testing.assert_allclose(expected_complex, expected_pair, rtol=0, atol=1e-5 * scale)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build((shape, shape))
    clone.set_weights(layer.get_weights())
    actual_pair, actual_complex = call_layer(clone, *inputs)
    assert isinstance(actual_pair, tuple) and not isinstance(actual_complex, (tuple, list))
    np.testing.assert_array_equal(to_complex_numpy(actual_pair), expected_pair)
    np.testing.assert_array_equal(to_complex_numpy(actual_complex), expected_complex)
    # a config through JSON and `keras.layers.deserialize`, as a `.keras` file stores it
    serialized = keras.layers.serialize(layer)
    again = keras.layers.deserialize(serialized)
    assert type(again) is type(layer) and again.get_config() == config


def _assert_same_outputs(model, loaded, inputs):
    expected, actual = model.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    actual = actual if isinstance(actual, list) else [actual]
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        assert np.asarray(a).dtype == np.asarray(e).dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


def _round_trip(model, inputs, tmp_path):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    _assert_same_outputs(model, loaded, inputs)
    return loaded


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file_with_pair_inputs(name, tmp_path):
    factory, shape = CASES[name]
    keras.utils.set_random_seed(1)
    real, imag = keras.Input(shape[1:]), keras.Input(shape[1:])
    outputs = factory()((real, imag))
    model = keras.Model([real, imag], list(outputs), name=f"pairs_{name}")
    z = _random_field(shape, seed=1)
    loaded = _round_trip(model, [z.real, z.imag], tmp_path)
    original, restored = model.layers[-1], loaded.layers[-1]
    assert type(restored) is type(original) and restored.get_config() == original.get_config()


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file_with_complex_inputs(name, tmp_path):
    factory, shape = CASES[name]
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape[1:], dtype="complex64")
    model = keras.Model(inputs, factory()(inputs), name=f"complex_{name}")
    z = _random_field(shape, seed=2)
    assert np.asarray(model.predict(z, verbose=0)).dtype == np.complex64
    _round_trip(model, z, tmp_path)


def test_phase_modulation_and_intensity(tmp_path):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5, 5, 1))
    slm = layers.PhaseModulation(output_form="complex", phase_initializer=keras.initializers.RandomUniform(
        -3.0, 3.0, seed=3), name="slm")
    field = slm(inputs)
    pair_field = layers.PhaseModulation(phase_initializer="random_normal", name="slm_pair")(inputs)
    detector = layers.Intensity(name="detector")
    model = keras.Model(inputs, [field, detector(field), detector(pair_field), pair_field[1]],
                        name="slm_detector")
    x = np.random.default_rng(3).random((2, 5, 5, 1)).astype("float32")
    outputs = model.predict(x, verbose=0)
    assert outputs[0].dtype == np.complex64 and outputs[1].dtype == np.float32
    phase = to_numpy(slm.phase)
    np.testing.assert_allclose(outputs[0], x * np.exp(1j * phase), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outputs[1], x**2, rtol=1e-5)
    loaded = _round_trip(model, x, tmp_path)
    for original in model.layers[1:]:
        assert loaded.get_layer(original.name).get_config() == original.get_config()
    # the config alone
    clone = layers.PhaseModulation.from_config(slm.get_config())
    assert clone.output_form == "complex"
    assert clone.get_config() == slm.get_config()


def test_story_one_model(tmp_path):
    keras.utils.set_random_seed(4)
    model = story_one_model(UnitModulus(), name="story_one")
    rng = np.random.default_rng(4)
    model.set_weights([rng.standard_normal(w.shape) for w in model.get_weights()])  # all away from init
    x = rng.random((6, 8, 8, 1)).astype("float32")
    loaded = _round_trip(model, x, tmp_path)
    lens = loaded.get_layer("lens")
    assert isinstance(lens.kernel_parametrization, UnitModulus)
    np.testing.assert_array_equal(to_numpy(lens.kernel[0]), to_numpy(model.get_layer("lens").kernel[0]))
    # a clone from the config alone
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    _assert_same_outputs(model, clone, x)
