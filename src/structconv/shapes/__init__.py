"""Shape arithmetic of convolution, shared by the ops, the layers and the command line.

Pure Python: importing `structconv.shapes` imports no Keras backend.
"""

from structconv.shapes.arithmetic import (
    conv_output_shape,
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel_size,
    normalize_padding,
    resolve_axis_padding,
)
from structconv.shapes.explain import ConvExplanation, explain_conv

__all__ = [
    "ConvExplanation",
    "explain_conv",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "normalize_padding",
    "resolve_axis_padding",
]
