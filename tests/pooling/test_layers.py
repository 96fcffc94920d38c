"""The N-D pooling, upsampling, padding and cropping layers: NumPy references at ranks 1-5, Keras's own
layers at ranks 1-3, configs and `.keras` files."""

import json

import keras
import numpy as np
import pytest
from conftest import assert_close, compiled, tensor, to_numpy
from pooling.pooling_reference import (
    crop_reference,
    global_pool_reference,
    pad_reference,
    pool_reference,
    upsample_reference,
)

import structconv.layers as sl

BACKEND = keras.backend.backend()


def _pairs(padding, rank):
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


# name -> (constructor arguments, NumPy reference of (x, data_format)), for a rank-`len(spatial)` input.
def _cases(rank):
    pool = tuple(range(2, 2 + rank)) if rank < 4 else (2, 3, 1, 2, 2)[:rank]
    stride = (1, 2, 3, 1, 2)[:rank]
    size = (2, 1, 3, 2, 1)[:rank]
    padding = ((1, 0), 2, (0, 2), 1, (2, 1))[:rank]
    cropping = ((1, 0), 1, (0, 2), 0, (1, 1))[:rank]
    return {
        "MaxPooling": ({"pool_size": pool, "strides": stride, "padding": "same"},
                       lambda x, f: pool_reference(x, pool, stride, "same", "max", f)),
        "AveragePooling": ({"pool_size": pool, "padding": "valid"},
                           lambda x, f: pool_reference(x, pool, None, "valid", "average", f)),
        "AveragePooling_same": ({"pool_size": pool, "strides": stride, "padding": "same"},
                                lambda x, f: pool_reference(x, pool, stride, "same", "average", f)),
        "GlobalMaxPooling": ({"keepdims": True}, lambda x, f: global_pool_reference(x, "max", f, True)),
        "GlobalAveragePooling": ({}, lambda x, f: global_pool_reference(x, "average", f)),
        "UpSampling": ({"size": size}, lambda x, f: upsample_reference(x, size, "nearest", f)),
        "UpSampling_linear": ({"size": size, "interpolation": "linear"},
                              lambda x, f: upsample_reference(x, size, "linear", f)),
        "ZeroPadding": ({"padding": padding}, lambda x, f: pad_reference(x, _pairs(padding, rank), f)),
        "Cropping": ({"cropping": cropping}, lambda x, f: crop_reference(x, _pairs(cropping, rank), f)),
    }


SPATIAL = {1: (7,), 2: (6, 7), 3: (5, 6, 7), 4: (5, 4, 6, 5), 5: (4, 5, 3, 4, 5)}
NAMES = list(_cases(1))


def _input(rank, data_format, seed=0):
    x = np.random.default_rng(seed).standard_normal((2, *SPATIAL[rank], 3))
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


def _layer(name, rank, arguments, data_format, fixed=True):
    family = name.split("_")[0]
    arguments = {"data_format": data_format, "dtype": "float64", **arguments}
    if fixed and rank <= 4:
        return getattr(sl, f"{family}{rank}D")(**arguments)
    return getattr(sl, f"{family}ND")(rank=rank, **arguments)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", NAMES)
def test_layer_matches_numpy(name, rank, data_format):
    arguments, expected = _cases(rank)[name]
    x = _input(rank, data_format)
    for fixed in (True, False):
        layer = _layer(name, rank, arguments, data_format, fixed)
        y = compiled(layer)(tensor(x, "float64"))  # one program on JAX (test_ranks_1_to_3_equal_keras: eager)
        assert_close(y, expected(x, data_format), "float64")
        assert tuple(layer.compute_output_shape(x.shape)) == tuple(y.shape)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_ranks_1_to_3_equal_keras(name, rank, data_format):
    arguments, _ = _cases(rank)[name]
    arguments = dict(arguments)
    family = name.split("_")[0]
    if "interpolation" in arguments and rank != 2:
        pytest.skip("Keras's UpSampling1D and UpSampling3D have no `interpolation`")
    if "interpolation" in arguments:
        arguments["interpolation"] = "bilinear"
    if rank == 1:  # Keras's 1-D forms: an int size, a bare (before, after) pair
        for key in ("size", "padding", "cropping"):
            if isinstance(arguments.get(key), tuple):
                arguments[key] = arguments[key][0]
    if family in ("UpSampling", "Cropping") and rank == 1:
        if data_format == "channels_first":
            pytest.skip("Keras's UpSampling1D and Cropping1D are channels_last only")
    else:
        arguments["data_format"] = data_format
    if BACKEND == "torch" and name == "AveragePooling_same":
        # Keras's torch backend replicates edges into asymmetric "same" windows instead of counting only
        # real inputs (as its TensorFlow and JAX backends do); compare on windows that are symmetric.
        arguments.update(pool_size=3, strides=1)
    x = _input(rank, data_format).astype("float32")
    ours = getattr(sl, f"{family}{rank}D")(**arguments)
    theirs = getattr(keras.layers, f"{family}{rank}D")(**arguments)
    assert_close(ours(x), to_numpy(theirs(x)), "float32", rtol=1e-6)
    assert tuple(ours.compute_output_shape(x.shape)) == tuple(theirs.compute_output_shape(x.shape))


ROUND_TRIP = {
    "MaxPoolingND": {"pool_size": (2, 1, 3, 2), "strides": (1, 1, 2, 2), "padding": "same"},
    "AveragePoolingND": {"pool_size": 2, "rank": 4, "data_format": "channels_first", "padding": "same"},
    "GlobalMaxPoolingND": {"rank": 4, "keepdims": True},
    "GlobalAveragePoolingND": {"rank": 4},
    "UpSamplingND": {"size": (2, 1, 2, 1), "interpolation": "linear"},
    "ZeroPaddingND": {"padding": (1, (0, 2), 0, 1)},
    "CroppingND": {"cropping": ((1, 0), 1, 0, (0, 2))},
    "MaxPooling4D": {"pool_size": 2},
    "Cropping2D": {},
}


def _round_trip_input(name, arguments):
    x = np.random.default_rng(3).standard_normal((2, 5, 6, 5, 6, 2) if "2D" not in name else (2, 5, 6, 2))
    if arguments.get("data_format") == "channels_first":
        x = np.moveaxis(x, -1, 1)
    return x.astype("float32")


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_config_and_json_round_trip(name):
    layer = getattr(sl, name)(**ROUND_TRIP[name])
    x = _round_trip_input(name, ROUND_TRIP[name])
    y = to_numpy(layer(x))
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(to_numpy(clone(x)), y)
    payload = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(payload, safe_mode=True)
    assert type(restored) is type(layer)
    np.testing.assert_array_equal(to_numpy(restored(x)), y)


@pytest.mark.parametrize("name", ["MaxPoolingND", "UpSamplingND", "CroppingND", "GlobalAveragePoolingND"])
def test_keras_file_round_trip_in_safe_mode(name, tmp_path):
    x = _round_trip_input(name, ROUND_TRIP[name])
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, getattr(sl, name)(**ROUND_TRIP[name])(inputs))
    y = to_numpy(model(x))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert type(loaded.layers[-1]) is getattr(sl, name)
    np.testing.assert_array_equal(to_numpy(loaded(x)), y)
