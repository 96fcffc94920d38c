"""structconv: structured convolution for Keras 3 on TensorFlow, JAX and PyTorch.

Submodules load on first use, so `import structconv` (and `structconv.shapes`) imports no Keras backend.
Its serializable classes (layers, parametrizations, constraints, initializers) are registered with Keras as
soon as Keras is loaded, whichever of the two is imported first: `import structconv` is enough for
`keras.saving.load_model(path, safe_mode=True)` (see `_registration`).
"""

import importlib

from structconv import _registration

__version__ = "0.1.0"

_SUBMODULES = (
    "config", "constraints", "errors", "export", "initializers", "layers", "ops", "parametrizations", "shapes"
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"structconv.{name}")
    raise AttributeError(f"module 'structconv' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])


__all__ = ["__version__", *_SUBMODULES]

_registration.register_when_keras_loads()
