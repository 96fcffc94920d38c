"""Keras's own convolution layer tests (`conv_test.py`, `conv_transpose_test.py`, shipped with the installed
Keras) run with structconv's six classes in place of Keras's: the drop-in promise, checked by Keras's own
tests as Keras changes them.

Each Keras test module is loaded under a new name with its `layers` namespace replaced by one in which
`Conv1D` ... `Conv3DTranspose` are structconv's (everything else stays Keras's), both for the test
parameters (read when the module loads) and inside the tests. The few tests left out are listed, with the
reason, in conftest.py's `DESELECTED`.
"""

import importlib.util
import pathlib
import sys
import types

import keras
import pytest

import structconv.layers

SWAPPED = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
KERAS_TESTS = pathlib.Path(keras.__file__).parent / "src" / "layers" / "convolutional"
MODULES = ("conv_test", "conv_transpose_test")

class _SwappedLayers(types.ModuleType):
    """`keras.src.layers` with structconv's convolution classes."""

    def __init__(self, keras_layers):
        super().__init__("structconv_swapped_layers")
        self._keras_layers = keras_layers
        for name in SWAPPED:
            setattr(self, name, getattr(structconv.layers, name))

    def __getattr__(self, name):
        return getattr(self._keras_layers, name)


def _load(module_name):
    path = KERAS_TESTS / f"{module_name}.py"
    if not path.exists():
        return None
    import keras.src as keras_src

    keras_layers = keras_src.layers
    keras_src.layers = _SwappedLayers(keras_layers)  # read by the module's `from keras.src import layers`
    try:
        spec = importlib.util.spec_from_file_location(f"structconv_swapped_{module_name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        keras_src.layers = keras_layers
    return module


for _name in MODULES:
    _module = _load(_name)
    if _module is None:
        continue
    for _attribute, _value in vars(_module).items():
        if isinstance(_value, type) and _attribute.endswith("Test") and _value.__module__ == _module.__name__:
            globals()[_attribute] = _value


def test_keras_test_modules_were_found():
    missing = [name for name in MODULES if not (KERAS_TESTS / f"{name}.py").exists()]
    if missing:
        pytest.skip(f"this Keras install ships no {missing} (Keras {keras.__version__})")
    assert "ConvBasicTest" in globals() and "ConvTransposeBasicTest" in globals()
    for name in MODULES:  # the tests see structconv's classes
        layers = sys.modules[f"structconv_swapped_{name}"].layers
        assert all(getattr(layers, cls) is getattr(structconv.layers, cls) for cls in SWAPPED)
