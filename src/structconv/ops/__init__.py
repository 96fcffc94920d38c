"""Stateless convolution, pooling and resampling ops, written in `keras.ops`, for every Keras backend."""

from structconv.ops.complex_conv import complex_conv, intensity
from structconv.ops.conv import conv
from structconv.ops.conv_transpose import conv_transpose
from structconv.ops.pooling import average_pool, avg_pool, global_avg_pool, global_max_pool, max_pool
from structconv.ops.resampling import crop, upsample, zero_pad

__all__ = ["complex_conv", "conv", "conv_transpose", "intensity"]
__all__ += ["average_pool", "avg_pool", "crop", "global_avg_pool", "global_max_pool", "max_pool", "upsample"]
__all__ += ["zero_pad"]
