"""Registers structconv's serializable classes with Keras as soon as Keras is loaded.

Keras finds a saved object's class only in its registry, which a class enters when its module is
imported. `import structconv` must therefore lead to those imports, yet must not import Keras itself:
Keras loads its backend (TensorFlow, JAX or PyTorch) when first imported, which the shape tools and the
command line avoid (and the command line sets `KERAS_BACKEND` before that import). So: if Keras is already
loaded, the modules are imported now; otherwise once, right after Keras's own import finishes.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# The modules whose classes carry `keras.saving.register_keras_serializable(package="structconv")`.
SERIALIZABLE_MODULES = ("layers", "parametrizations", "constraints", "initializers")


# The packages of `SERIALIZABLE_MODULES` whose own import is under way (`loading` .. `loaded`).
_loading = set()


def register():
    """Imports every module holding a serializable structconv class (idempotent). While one of them is
    being imported (Keras imported from inside it), this waits for its `loaded`: importing the others then
    would meet it half-initialized (`import structconv.parametrizations` as a program's first import
    failed so: constraints read its ZeroSum before it was defined)."""
    if _loading:
        return
    for name in SERIALIZABLE_MODULES:
        importlib.import_module(f"structconv.{name}")


def loading(package):
    """Called first by each package of `SERIALIZABLE_MODULES`."""
    _loading.add(package)


def loaded(package):
    """Called last by each package of `SERIALIZABLE_MODULES`: the registration it held back runs now."""
    _loading.discard(package)
    if "keras" in sys.modules:
        register()


class _LoaderThenRegister(importlib.abc.Loader):
    """Keras's own loader, followed by `register()` once Keras's package has run."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        register()

    def __getattr__(self, name):  # resource readers and the like: Keras's loader answers
        return getattr(self._loader, name)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds Keras as the other finders do, its loader wrapped in `_LoaderThenRegister`; then steps aside."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is not None and spec.loader is not None:
            spec.loader = _LoaderThenRegister(spec.loader)
        return spec


def register_when_keras_loads():
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
