"""Stateless convolution, pooling and resampling ops, written in `keras.ops`, for every Keras backend."""

# First: Keras loads, and structconv registers its classes, before this package's modules run (a
# registration triggered from inside one of them would import it half-initialized; structconv._registration).
import keras  # noqa: I001

from structconv import _backend

from structconv.ops.complex_activations import cardioid, crelu, mod_relu, zrelu
from structconv.ops.complex_conv import complex_conv, intensity
from structconv.ops.complex_conv_transpose import complex_conv_transpose
from structconv.ops.complex_matmul import complex_matmul
from structconv.ops.complex_normalization import complex_standardize
from structconv.ops.complex_pooling import complex_average_pool, complex_max_pool_by_magnitude
from structconv.ops.conv import conv
from structconv.ops.conv_transpose import conv_transpose
from structconv.ops.optical_elements import aperture, thin_lens
from structconv.ops.pooling import average_pool, avg_pool, global_avg_pool, global_max_pool, max_pool
from structconv.ops.propagation import free_space_propagation, transfer_function
from structconv.ops.resampling import crop, upsample, zero_pad

# The backend module now, not at the first call: on TensorFlow it tells AutoGraph to leave structconv to
# Python, which must hold before a user's `tf.function` first calls an op (another Keras backend is refused
# at the first call, by name).
if keras.backend.backend() in _backend.SUPPORTED_BACKENDS:
    _backend.get_backend()

__all__ = ["complex_conv", "conv", "conv_transpose", "intensity"]
__all__ += ["aperture", "free_space_propagation", "thin_lens", "transfer_function"]  # optics (issue 17)
# complex networks (issue 17)
__all__ += ["cardioid", "complex_average_pool", "complex_conv_transpose", "complex_matmul",
            "complex_max_pool_by_magnitude", "complex_standardize", "crelu", "mod_relu", "zrelu"]
__all__ += ["average_pool", "avg_pool", "crop", "global_avg_pool", "global_max_pool", "max_pool", "upsample"]
__all__ += ["zero_pad"]
