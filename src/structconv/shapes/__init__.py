"""Shape arithmetic of convolution, shared by the ops, the layers and the command line, and shape tools.

Importing `structconv.shapes` imports no Keras backend: the arithmetic (`conv_output_size`, `explain_conv`,
...) is pure Python, and `summary`, `dense_to_conv`, `conv_to_dense` and `fully_convolutional` import Keras
when called; `receptive_field` only for Keras models and layers, not for layer specs.
"""

from structconv.shapes.arithmetic import (
    conv_output_shape,
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    normalize_padding,
    resolve_axis_padding,
)
from structconv.shapes.dense_conv import conv_to_dense, dense_to_conv
from structconv.shapes.explain import ConvExplanation, conv_transpose_formula, explain_conv

# Bound after the submodules of the same names are imported, so the names mean the functions.
from structconv.shapes.fully_convolutional import fully_convolutional  # noqa: I001
from structconv.shapes.model_graph import receptive_field
from structconv.shapes.receptive_field import ReceptiveField
from structconv.shapes.summary import summary

__all__ = [
    "conv_to_dense",
    "dense_to_conv",
    "fully_convolutional",
    "summary",
    "receptive_field",
    "ReceptiveField",
    "ConvExplanation",
    "conv_transpose_formula",
    "explain_conv",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "normalize_padding",
    "resolve_axis_padding",
]
