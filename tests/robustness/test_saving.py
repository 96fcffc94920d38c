"""`.keras` files of a model holding every structconv layer and parametrization (`saving_worker.build_model`).

On each backend the model saves and loads with `safe_mode=True` and gives exactly the same outputs. Across
backends a model saved under torch (in a subprocess) loads under TensorFlow (here) and JAX (a subprocess)
with the same outputs to float32 rounding: that test runs in the TensorFlow pass of the suite only, since
it starts the other two backends anyway.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from robustness.saving_worker import build_model, inputs, outputs_of, randomize

from structconv import layers

BACKEND = keras.backend.backend()
WORKER = Path(__file__).with_name("saving_worker.py")
TIMEOUT = 300


def every_layer_class():
    return {cls for cls in vars(layers).values() if isinstance(cls, type) and issubclass(cls, keras.Layer)}


@pytest.fixture(scope="module")
def saved_and_loaded(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model()
    randomize(model)
    path = tmp_path_factory.mktemp("saving") / "every_layer.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    return model, loaded


def _rank_alias_of(cls):
    """The class a fixed-rank alias (`Conv2D` of `ConvND`, `MaxPooling4D` of `MaxPoolingND`, ...) only
    fixes the rank of (it defines `fixed_rank` and no function of its own), or None."""
    own = vars(cls)
    if own.get("fixed_rank") and not any(callable(value) or isinstance(value, property)
                                         for name, value in own.items() if name != "fixed_rank"):
        return cls.__mro__[1]
    return None


def test_the_model_holds_every_layer_class(saved_and_loaded):
    model, _ = saved_and_loaded
    used = {type(layer) for layer in model.layers}
    # A fixed-rank alias is covered by its rank-generic class (the alias only sets `fixed_rank`).
    missing = {cls.__name__ for cls in every_layer_class() - used if _rank_alias_of(cls) not in used}
    assert not missing, missing


def test_round_trip_gives_identical_outputs(saved_and_loaded):
    model, loaded = saved_and_loaded
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    for original, copy in zip(model.layers, loaded.layers):
        assert [w.path for w in copy.weights] == [w.path for w in original.weights]
        for a, b in zip(original.weights, copy.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a))
        parametrization = getattr(original, "kernel_parametrization", None)
        if parametrization is not None:
            assert repr(copy.kernel_parametrization) == repr(parametrization)
    data = inputs()
    expected, actual = outputs_of(model, data), outputs_of(loaded, data)
    assert set(actual) == set(expected)
    for name in expected:
        assert np.all(np.isfinite(expected[name])), name
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def run_worker(backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", OMP_WAIT_POLICY="PASSIVE")
    result = subprocess.run(
        [sys.executable, str(WORKER), *map(str, args)], env=env, capture_output=True, text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="runs in the tensorflow pass only: it starts torch and JAX in subprocesses itself",
)
@pytest.mark.long
def test_saved_under_torch_loads_under_tensorflow_and_jax(tmp_path):
    model_path, arrays_path = tmp_path / "torch.keras", tmp_path / "arrays.npz"
    run_worker("torch", "save", model_path, arrays_path)
    saved = np.load(arrays_path)
    data = {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("input/")}
    expected = {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("output/")}
    results = {"tensorflow": outputs_of(keras.saving.load_model(model_path, safe_mode=True), data)}
    run_worker("jax", "load", model_path, arrays_path)
    jax_saved = np.load(str(arrays_path).replace(".npz", ".jax.npz"))
    results["jax"] = {k.split("/", 1)[1]: jax_saved[k] for k in jax_saved.files}
    for backend, outputs in results.items():
        assert set(outputs) == set(expected), backend
        for name, want in expected.items():
            # Different backends' convolutions round differently: float32 rounding of the sums.
            scale = max(float(np.abs(want).max()), 1.0)
            np.testing.assert_allclose(outputs[name], want, rtol=0, atol=1e-5 * scale,
                                       err_msg=f"{backend}: {name}")
