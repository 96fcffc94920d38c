"""Shared test helpers: the active backend, tensor conversion and dtype-aware tolerances."""

import keras
import numpy as np
import pytest

# Relative tolerances by dtype, applied to values scaled by the result's magnitude.
TOLERANCES = {"float32": 1e-4, "float64": 1e-10}


@pytest.fixture
def backend():
    """The name of the active Keras backend: "tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def to_numpy(x):
    """Any backend's tensor (or array) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def tensor(array, dtype="float32"):
    """A backend tensor of `dtype` (NumPy float64 would otherwise become float32)."""
    return keras.ops.convert_to_tensor(np.asarray(array), dtype=dtype)


def dtype_name(x):
    return keras.backend.standardize_dtype(x.dtype)


def assert_close(actual, expected, dtype="float32", rtol=None):
    """Checks `actual` against `expected` with a tolerance relative to the largest expected magnitude."""
    actual, expected = to_numpy(actual).astype(np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol = TOLERANCES[dtype] if rtol is None else rtol
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def compiled(function):
    """`function` compiled as one program on JAX (`jax.jit`), unchanged on the other backends.

    JAX on CPU otherwise compiles every eager primitive separately for each new shape, which makes sweeps
    over many small configurations several times slower. Non-tensor arguments must be closed over.
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    return function
