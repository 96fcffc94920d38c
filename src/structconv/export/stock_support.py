"""Which stock Keras convolutions the active backend can run on this device.

TensorFlow's CPU kernels without oneDNN (its default on CPUs without AVX-512, and with
`TF_ENABLE_ONEDNN_OPTS=0`) have no channels_first convolution and no dilated transposed convolution.
Which holds is asked of the backend once, on a tiny convolution, rather than guessed from the CPU.
"""

import functools

import keras
import numpy as np


@functools.cache
def stock_conv_runs(rank, transposed=False, data_format="channels_last", dilated=False):
    """Whether `keras.ops.conv` (or `conv_transpose`) of this rank, data format and dilation runs here.

    Args:
        rank: int, the number of spatial axes (1 to 3).
        transposed: bool, a transposed convolution.
        data_format: `"channels_last"` or `"channels_first"`.
        dilated: bool, a dilation rate of 2 on every axis.

    Example:

    >>> stock_conv_runs(2)
    True
    """
    spatial = (5,) * rank
    x = np.zeros((1, *spatial, 1) if data_format == "channels_last" else (1, 1, *spatial), "float32")
    kernel = np.zeros((2,) * rank + (1, 1), "float32")
    dilation = 2 if dilated else 1
    try:
        if transposed:
            keras.ops.conv_transpose(x, kernel, 1, data_format=data_format, dilation_rate=dilation)
        else:
            keras.ops.conv(x, kernel, 1, data_format=data_format, dilation_rate=dilation)
    except Exception:  # noqa: BLE001 - backends raise several types for a missing kernel
        return False
    return True
