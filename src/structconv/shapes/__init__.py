"""Shape arithmetic of convolution, shared by the ops, the layers and the command line, and shape tools.

The arithmetic (`conv_output_size`, `explain_conv`, ...) is pure Python: importing `structconv.shapes`
imports no Keras backend. `summary`, `dense_to_conv`, `conv_to_dense` and `fully_convolutional` import Keras
when called.
"""

import importlib

from structconv.shapes.arithmetic import (
    conv_output_shape,
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    normalize_padding,
    resolve_axis_padding,
)
from structconv.shapes.explain import ConvExplanation, explain_conv

_KERAS_TOOLS = {
    "summary": "structconv.shapes.summary",
    "dense_to_conv": "structconv.shapes.dense_conv",
    "conv_to_dense": "structconv.shapes.dense_conv",
    "fully_convolutional": "structconv.shapes.fully_convolutional",
}


def __getattr__(name):
    if name in _KERAS_TOOLS:
        return getattr(importlib.import_module(_KERAS_TOOLS[name]), name)
    raise AttributeError(f"module 'structconv.shapes' has no attribute {name!r}")


__all__ = [
    "conv_to_dense",
    "dense_to_conv",
    "fully_convolutional",
    "summary",
    "ConvExplanation",
    "explain_conv",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "normalize_padding",
    "resolve_axis_padding",
]
