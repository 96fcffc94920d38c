"""`import structconv` is enough to load a saved model (its classes registered with Keras, whichever of
Keras and structconv is imported first), and still imports no framework by itself."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import to_numpy

from structconv import layers as L
from structconv import parametrizations as P

pytestmark = pytest.mark.long

LOAD = (
    "import numpy as np; {imports}; "
    "model = keras.saving.load_model({path!r}, safe_mode=True); "
    "np.save({out!r}, keras.ops.convert_to_numpy(model(np.load({x!r}))))"
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A model of a Conv4D with a parametrization, a Mask-constrained Conv2D after a reshape and a complex
    layer pair, saved; an input and its prediction."""
    directory = tmp_path_factory.mktemp("registration")
    inputs = keras.Input((4, 4, 4, 4, 2))
    y = L.Conv4D(2, 2, kernel_parametrization=[P.ZeroSum(), P.UnitNorm()])(inputs)
    y = keras.layers.Reshape((27, 3, 2))(y)
    y = L.Conv2D(4, 2, kernel_parametrization=P.Mask(np.tril(np.ones((2, 4))) > 0))(y)
    y = L.Intensity()(L.PhaseModulation()(y))
    model = keras.Model(inputs, y)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 4, 4, 2)).astype("float32")
    path, x_path = str(directory / "model.keras"), str(directory / "x.npy")
    model.save(path)
    np.save(x_path, x)
    return directory, path, x_path, to_numpy(model(x))


@pytest.mark.parametrize("imports", [
    "import structconv, keras",
    pytest.param("import keras, structconv", marks=pytest.mark.skipif(
        keras.backend.backend() != "torch",
        reason="runs in the torch pass only: which package is imported first does not depend on the backend "
        "(a fresh process, 9-10 s per pass on a 2-core VM); loading under each backend runs above")),
])
def test_import_structconv_is_enough_to_load(saved, imports):
    directory, path, x_path, expected = saved
    out = str(directory / f"out{len(os.listdir(directory))}.npy")
    code = LOAD.format(imports=imports, path=path, out=out, x=x_path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-6)


def test_import_structconv_imports_no_framework():
    code = (
        "import sys, structconv, structconv.shapes; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="runs in the jax pass only: registration does not depend on the backend (a fresh process each, "
    "10-14 s per pass on a 2-core VM)",
)
@pytest.mark.parametrize("package", ["parametrizations", "initializers"])
def test_a_serializable_package_imported_first_registers_everything(package):
    """A program whose first import is one of the serializable packages (which import Keras themselves):
    the import works and every package's classes are registered (both failed with a circular import)."""
    code = (
        f"import structconv.{package}, keras; "
        "found = keras.saving.get_registered_object; "
        "print([found(name) is not None for name in ('structconv>Conv4D', 'structconv>ZeroSum', "
        "'structconv.constraints>ZeroSum', 'structconv>ComplexInitializer')])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[True, True, True, True]"
