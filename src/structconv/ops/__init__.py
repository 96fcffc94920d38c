"""Stateless convolution ops, written in `keras.ops`, for every Keras backend."""

from structconv.ops.complex_conv import complex_conv, intensity
from structconv.ops.conv import conv
from structconv.ops.conv_transpose import conv_transpose

__all__ = ["complex_conv", "conv", "conv_transpose", "intensity"]
