"""Configs and `.keras` files: every layer class comes back with its config and its outputs.

The reference is the original layer (random weights, bias included) on the same input: a round trip
must give back exactly its outputs. The training test checks the loss against its own first value.
"""

import json

import keras
import numpy as np
import pytest
from layers.helpers import set_random_weights, tensor, to_numpy

import structconv.layers as sl

# name -> (constructor arguments, input shape); each exercises something the config must carry.
CASES = {
    "ConvND": (
        {
            "filters": 4,
            "kernel_size": (3, 2, 2),
            "strides": (1, 2, 1),
            "dilation_rate": (2, 1, 1),
            "padding": ("same", (1, 0), "causal"),
            "padding_mode": "reflect",
            "groups": 2,
            "activation": "relu",
            "kernel_regularizer": "l2",
            "bias_constraint": "non_neg",
        },
        (2, 6, 5, 4, 4),
    ),
    "ConvND_rank5": (
        {
            "filters": 2,
            "kernel_size": 2,
            "rank": 5,
            "padding": 1,
            "padding_mode": "circular",
            "data_format": "channels_first",
            "activity_regularizer": "l1",
        },
        (1, 2, 2, 3, 2, 2, 3),
    ),
    "ConvNDTranspose": (
        {
            "filters": 3,
            "kernel_size": (2, 3),
            "strides": 2,
            "padding": ("full", 1),
            "output_padding": (1, 0),
            "use_bias": True,
            "bias_initializer": "ones",
        },
        (2, 3, 4, 2),
    ),
    "Conv1D": (
        {"filters": 3, "kernel_size": 3, "padding": ((1, 2),), "padding_mode": "replicate"},
        (2, 5, 2),
    ),
    "Conv2D": (
        {
            "filters": 4,
            "kernel_size": 3,
            "strides": 2,
            "padding": "same",
            "groups": 2,
            "data_format": "channels_first",
        },
        (2, 4, 5, 6),
    ),
    "Conv3D": (
        {
            "filters": 2,
            "kernel_size": (2, 1, 2),
            "dilation_rate": 2,
            "padding": "full",
            "use_bias": False,
        },
        (1, 3, 2, 3, 2),
    ),
    "Conv4D": (
        {
            "filters": 2,
            "kernel_size": 2,
            "strides": (1, 2, 1, 2),
            "dilation_rate": (2, 1, 1, 1),
            "padding": ("causal", "same", "valid", (0, 1)),
        },
        (1, 3, 4, 2, 3, 2),
    ),
    "Conv1DTranspose": (
        {"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same", "output_padding": 2},
        (2, 4, 3),
    ),
    "Conv2DTranspose": (
        {
            "filters": 3,
            "kernel_size": (2, 3),
            "strides": (2, 1),
            "padding": "valid",
            "data_format": "channels_first",
            "activation": "sigmoid",
        },
        (2, 2, 3, 4),
    ),
    "Conv3DTranspose": (
        {
            "filters": 2,
            "kernel_size": 2,
            "strides": 2,
            "padding": "same",
            "output_padding": (1, 0, 1),
        },
        (1, 2, 3, 2, 2),
    ),
    "Conv4DTranspose": (
        {
            "filters": 2,
            "kernel_size": (2, 1, 2, 1),
            "strides": 2,
            "padding": "valid",
            "dilation_rate": 1,
        },
        (1, 2, 2, 1, 2, 2),
    ),
}


def _make(case, seed=0):
    """The layer of `case`, built, with random weights; its input; its output."""
    kwargs, shape = CASES[case]
    cls = getattr(sl, case.split("_")[0])
    layer = cls(**kwargs, kernel_initializer="zeros")
    rng = np.random.default_rng(seed)
    set_random_weights(layer, shape, rng)
    x = rng.standard_normal(shape).astype("float32")
    return cls, layer, x, to_numpy(layer(x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_get_config_from_config_round_trip(case):
    cls, layer, x, y = _make(case)
    config = layer.get_config()
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(to_numpy(clone(x)), y)
    for attribute in (
        "rank",
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "data_format",
        "padding_mode",
        "groups",
        "output_padding",
    ):
        if hasattr(layer, attribute):
            assert getattr(clone, attribute) == getattr(layer, attribute), attribute


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_round_trip_in_safe_mode(case):
    """Through JSON (tuples become lists) and `deserialize_keras_object(safe_mode=True)`."""
    cls, layer, x, y = _make(case)
    payload = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    clone = keras.saving.deserialize_keras_object(payload, safe_mode=True)
    assert type(clone) is cls
    assert clone.get_config() == layer.get_config()
    if not clone.built:
        clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(to_numpy(clone(x)), y)


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_file_round_trip_in_safe_mode(case, tmp_path):
    cls, layer, x, y = _make(case)
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    (restored,) = [lay for lay in loaded.layers if isinstance(lay, sl.ConvND | sl.ConvNDTranspose)]
    assert type(restored) is cls
    assert restored.get_config() == layer.get_config()
    for actual, expected in zip(restored.get_weights(), layer.get_weights()):
        np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(to_numpy(loaded(x)), y)


def test_rank4_model_fits_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 4, 3, 4, 2)).astype("float32")
    y = rng.standard_normal((8, 3)).astype("float32")
    inputs = keras.Input(x.shape[1:])
    h = sl.Conv4D(3, 2, activation="relu")(inputs)
    h = sl.ConvND(
        2,
        (2, 2, 1, 2),
        strides=(1, 2, 1, 1),
        padding=("same", (0, 1), "valid", "causal"),
        padding_mode="reflect",
    )(h)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses
    # Every weight of both structconv layers was trained.
    for layer in model.layers[1:3]:
        for variable in layer.trainable_weights:
            index = [id(v) for v in model.weights].index(id(variable))
            assert not np.array_equal(to_numpy(variable), before[index]), variable.path

    path = tmp_path / "rank4.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(to_numpy(loaded(tensor(x))), to_numpy(model(tensor(x))))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
