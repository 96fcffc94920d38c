"""Stateless convolution ops, written in `keras.ops`, for every Keras backend."""

from structconv.ops.complex_conv import complex_conv, intensity
from structconv.ops.conv import conv
from structconv.ops.conv_transpose import conv_transpose
from structconv.ops.optical_elements import aperture, thin_lens
from structconv.ops.propagation import free_space_propagation, transfer_function

__all__ = ["complex_conv", "conv", "conv_transpose", "intensity"]
__all__ += ["aperture", "free_space_propagation", "thin_lens", "transfer_function"]  # optics (issue 17)
