"""The backend tier: the few functions `keras.ops` lacks, one module per Keras backend (see README.md)."""

import functools
import importlib

from structconv.errors import invalid_argument

SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


@functools.cache
def get_backend():
    """Returns the backend module for the active Keras backend, importing it on first use."""
    import keras

    name = keras.backend.backend()
    if name not in SUPPORTED_BACKENDS:
        raise invalid_argument(
            "KERAS_BACKEND", name, " or ".join(repr(b) for b in SUPPORTED_BACKENDS)
        )
    return importlib.import_module(f"structconv._backend.{name}")
