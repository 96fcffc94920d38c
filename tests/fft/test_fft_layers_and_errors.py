"""`ConvND` / `ConvNDTranspose` with `algorithm="fft"` against `"direct"` (same weights), the memory budget,
bad `algorithm` values, and the config round trip."""

import importlib
import re

import keras
import numpy as np
import pytest
from conftest import assert_close, compiled, conv_problem_of, tensor, to_numpy

from structconv import config
from structconv import ops as sops
from structconv.errors import StructconvError
from structconv.layers import ConvND, ConvNDTranspose
from structconv.ops import candidate_plans

LAYER_CASES = [
    # rank, spatial, channels, kwargs
    (1, (20,), 3, {"kernel_size": 5, "strides": 2, "padding": "causal", "dilation_rate": 1}),
    (2, (9, 8), 4, {"kernel_size": (3, 2), "padding": "same", "groups": 2, "padding_mode": "reflect"}),
    (3, (6, 5, 6), 2, {"kernel_size": 3, "padding": ((1, 2), "valid", 1), "dilation_rate": (1, 2, 1)}),
    (4, (5, 4, 5, 4), 2, {"kernel_size": 2, "strides": (1, 2, 1, 1), "padding": "same",
                          "data_format": "channels_first"}),
]


def _input_shape(spatial, channels, kwargs, batch=2):
    if kwargs.get("data_format") == "channels_first":
        return (batch, channels, *spatial)
    return (batch, *spatial, channels)


def _same_weights(make, input_shape, rng):
    fft, direct = make("fft"), make("direct")
    fft.build(input_shape)
    direct.build(input_shape)
    weights = [rng.standard_normal(w.shape) for w in fft.get_weights()]
    fft.set_weights(weights)
    direct.set_weights(weights)
    return fft, direct


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: f"r{c[0]}")
def test_conv_nd_fft_equals_direct(case):
    rank, spatial, channels, kwargs = case
    rng = np.random.default_rng(rank)
    input_shape = _input_shape(spatial, channels, kwargs)

    def make(algorithm):
        return ConvND(4, rank=rank, algorithm=algorithm, dtype="float64", **kwargs)

    fft, direct = _same_weights(make, input_shape, rng)
    x = tensor(rng.standard_normal(input_shape), "float64")
    assert fft.algorithm == "fft" and direct.algorithm == "direct"
    assert_close(compiled(fft)(x), to_numpy(compiled(direct)(x)), "float64")  # one program each on JAX


TRANSPOSE_LAYER_CASES = [
    (1, (7,), 2, {"kernel_size": 4, "strides": 3, "padding": "same"}),
    (2, (5, 4), 3, {"kernel_size": (3, 2), "strides": (2, 1), "padding": "valid", "output_padding": (1, 0)}),
    (3, (3, 4, 3), 2, {"kernel_size": 2, "strides": 2, "padding": "same", "dilation_rate": 1}),
    (4, (3, 3, 2, 3), 2, {"kernel_size": 2, "strides": (2, 1, 2, 1), "padding": "valid",
                          "data_format": "channels_first"}),
]


@pytest.mark.parametrize("case", TRANSPOSE_LAYER_CASES, ids=lambda c: f"r{c[0]}")
def test_conv_nd_transpose_fft_equals_direct(case):
    rank, spatial, channels, kwargs = case
    rng = np.random.default_rng(10 + rank)
    input_shape = _input_shape(spatial, channels, kwargs)

    def make(algorithm):
        return ConvNDTranspose(3, rank=rank, algorithm=algorithm, dtype="float64", **kwargs)

    fft, direct = _same_weights(make, input_shape, rng)
    x = tensor(rng.standard_normal(input_shape), "float64")
    assert_close(compiled(fft)(x), to_numpy(compiled(direct)(x)), "float64")


def test_fft_layer_in_a_compiled_model():
    """`model.predict` traces the layer with an unknown batch size (tf.function, jax.jit)."""
    inputs = keras.Input((32, 2))
    layer = ConvND(3, 9, rank=1, padding="same", algorithm="fft")
    model = keras.Model(inputs, layer(inputs))
    reference_layer = ConvND(3, 9, rank=1, padding="same", algorithm="direct")
    reference_layer.build((None, 32, 2))
    reference_layer.set_weights(layer.get_weights())
    x = np.random.default_rng(0).standard_normal((5, 32, 2)).astype("float32")
    assert_close(model.predict(x, batch_size=3, verbose=0), to_numpy(reference_layer(x)), "float32")


# --- memory budget ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_budget():
    saved = config.fft_memory_budget()
    config.set_fft_memory_budget(1024)
    try:
        yield 1024
    finally:
        config.set_fft_memory_budget(saved)


def test_fft_over_budget_raises_naming_the_estimate(tiny_budget):
    x = tensor(np.ones((2, 64, 64, 3)))
    kernel = tensor(np.ones((5, 5, 3, 4)))
    # Over the budget, the estimate named is that of the FFT plan with the least memory.
    problem, _ = conv_problem_of(x, kernel, padding="same")
    ffts = [p.fft for p in candidate_plans.candidates(problem) if p.algorithm == "fft"]
    plan = min(ffts, key=lambda f: f.memory)
    estimate = plan.memory
    assert estimate > tiny_budget
    with pytest.raises(StructconvError) as error:
        sops.conv(x, kernel, padding="same", algorithm="fft")
    message = str(error.value)
    assert "algorithm='fft'" in message
    assert re.search(r"estimated ([\d.]+) MiB", message).group(1) == f"{estimate / 2**20:.1f}"
    assert str(plan.lengths) in message
    assert "budget" in message and "set_fft_memory_budget" in message
    with pytest.raises(StructconvError, match="estimated"):
        sops.conv_transpose(x, kernel[..., :3], strides=2, padding="same", algorithm="fft")


def test_auto_over_budget_picks_direct(tiny_budget, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the FFT path ran over the memory budget")

    # Even where FFT would be far faster (a huge kernel), "auto" stays direct over the budget.
    # (The executor runs every plan, `ops.conv`'s and `ops.conv_transpose`'s alike.)
    execute_module = importlib.import_module("structconv.ops.execute")
    monkeypatch.setattr(execute_module, "fft_conv", fail)
    monkeypatch.setattr(execute_module, "fft_conv_transpose_full", fail)
    rng = np.random.default_rng(0)
    x = tensor(rng.standard_normal((1, 600, 2)), "float64")
    kernel = tensor(rng.standard_normal((301, 2, 2)), "float64")
    auto = sops.conv(x, kernel, padding="same", algorithm="auto")
    direct = sops.conv(x, kernel, padding="same", algorithm="direct")
    np.testing.assert_array_equal(to_numpy(auto), to_numpy(direct))
    sops.conv_transpose(x, kernel, padding="same", algorithm="auto")


def test_budget_is_restored():
    assert config.fft_memory_budget() > 1024


# --- argument errors and config --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["fast", "FFTW", "", None, 1])
def test_bad_algorithm_names_it(bad):
    x = tensor(np.ones((1, 8, 2)))
    kernel = tensor(np.ones((3, 2, 2)))
    for call in (
        lambda: sops.conv(x, kernel, algorithm=bad),
        lambda: sops.conv_transpose(x, kernel, algorithm=bad),
        lambda: ConvND(2, 3, rank=1, algorithm=bad),
        lambda: ConvNDTranspose(2, 3, rank=1, algorithm=bad),
    ):
        with pytest.raises(StructconvError) as error:
            call()
        message = str(error.value)
        assert "`algorithm`" in message and repr(bad) in message
        assert "'auto'" in message and "'direct'" in message and "'fft'" in message


@pytest.mark.parametrize("cls", [ConvND, ConvNDTranspose])
@pytest.mark.parametrize("algorithm", ["fft", "direct", "auto"])
def test_config_round_trip_keeps_algorithm(cls, algorithm):
    layer = cls(4, 3, rank=2, algorithm=algorithm.upper() if algorithm == "fft" else algorithm)
    assert layer.algorithm == algorithm
    restored = cls.from_config(layer.get_config())
    assert restored.get_config()["algorithm"] == algorithm
    assert restored.algorithm == algorithm
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is cls and revived.algorithm == algorithm
