"""Keras layers: N-dimensional convolution and transposed convolution, with fixed-rank aliases."""

from structconv.layers.conv_aliases import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Conv4D,
    Conv4DTranspose,
)
from structconv.layers.conv_nd import ConvND
from structconv.layers.conv_nd_transpose import ConvNDTranspose

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Conv4D",
    "Conv4DTranspose",
    "ConvND",
    "ConvNDTranspose",
]
