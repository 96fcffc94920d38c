"""Config and `.keras` round trips (safe_mode=True) of parametrized layers, with identical outputs."""

import json

import keras
import numpy as np
import pytest
from parametrizations.param_helpers import MASK_IN_OUT, cases, to_numpy

from structconv import layers
from structconv import parametrizations as P

# Every case, plus the other ways to name a parametrization: a registry name, a list, FixedTaps alone,
# FixedSum over given axes, and a nested composition.
IDENTIFIERS = {
    **cases(),
    "string_zero_sum": "zero_sum",
    "list": ["non_neg", P.Symmetric(1)],
    "fixed_taps": P.FixedTaps([((0, 2), 0.5), ((2, 2, 1, 0), -0.25)]),
    "fixed_sum_axes": P.FixedSum(-0.5, axis=(0, 1, 2)),
    "nested": [P.Mask(MASK_IN_OUT), [P.NonNeg(), P.Symmetric(0)]],
}
NAMES = tuple(IDENTIFIERS)


@pytest.fixture(scope="module")
def saved_and_loaded(tmp_path_factory):
    """A model with one parametrized Conv2D per identifier, with random free variables and biases (not
    their initial values), and its copy saved and loaded with safe_mode=True."""
    rng = np.random.default_rng(1)
    inputs = keras.Input((6, 6, 2))
    convs = [layers.Conv2D(2, 3, kernel_parametrization=p, name=n) for n, p in IDENTIFIERS.items()]
    model = keras.Model(inputs, [conv(inputs) for conv in convs])
    for conv in convs:
        conv.free_kernel.assign(rng.standard_normal(conv.free_kernel.shape).astype("float32"))
        conv.bias.assign(rng.standard_normal(2).astype("float32"))
    x = rng.standard_normal((4, 6, 6, 2)).astype("float32")
    path = tmp_path_factory.mktemp("saving") / "parametrized.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    return model, loaded, x, [to_numpy(y) for y in model(x)], [to_numpy(y) for y in loaded(x)]


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_round_trip(saved_and_loaded, name):
    model, loaded, _, outputs, loaded_outputs = saved_and_loaded
    original, copy = model.get_layer(name), loaded.get_layer(name)
    assert type(copy) is layers.Conv2D
    assert type(copy.kernel_parametrization) is type(original.kernel_parametrization)
    assert repr(copy.kernel_parametrization) == repr(original.kernel_parametrization)
    assert [w.name for w in copy.weights] == ["free_kernel", "bias"]
    np.testing.assert_array_equal(to_numpy(copy.free_kernel), to_numpy(original.free_kernel))
    np.testing.assert_array_equal(to_numpy(copy.kernel), to_numpy(original.kernel))
    index = NAMES.index(name)
    np.testing.assert_array_equal(loaded_outputs[index], outputs[index])


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(saved_and_loaded, name):
    model, _, x, _, _ = saved_and_loaded
    original = model.get_layer(name)
    config = original.get_config()
    copy = layers.Conv2D.from_config(config)
    copy.build(x.shape)
    copy.set_weights(original.get_weights())
    assert copy.get_config() == config
    np.testing.assert_array_equal(to_numpy(copy(x)), to_numpy(original(x)))
    # through JSON, as in the .keras format
    text = json.dumps(keras.saving.serialize_keras_object(original))
    rebuilt = keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)
    assert type(rebuilt) is layers.Conv2D
    assert repr(rebuilt.kernel_parametrization) == repr(original.kernel_parametrization)


def test_string_and_list_identifiers_become_objects(saved_and_loaded):
    model, loaded = saved_and_loaded[:2]
    for m in (model, loaded):
        assert isinstance(m.get_layer("string_zero_sum").kernel_parametrization, P.ZeroSum)
        listed = m.get_layer("list").kernel_parametrization
        assert isinstance(listed, P.Compose) and [type(p) for p in listed.members] == [P.NonNeg, P.Symmetric]
