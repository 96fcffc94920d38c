"""Stateless convolution ops, written in `keras.ops`, for every Keras backend."""

from structconv.ops.conv import conv
from structconv.ops.conv_transpose import conv_transpose

__all__ = ["conv", "conv_transpose"]
