"""The problems calibration times: a cube of `size` per axis, float32 (unless told), channels last, one
group."""

from structconv.ops.problem import ConvProblem
from structconv.shapes import arithmetic


def square_problem(backend_name, device, rank, size, kernel_size, batch, channels, filters, padding="same",
                   stride=1, training=False, dtype="float32"):
    """The `ConvProblem` of a convolution of a `(batch, size, ..., size, channels)` input of `dtype` by a
    kernel of `kernel_size` (an int: the same on every axis) into `filters` channels."""
    kernels = (kernel_size,) * rank if isinstance(kernel_size, int) else tuple(kernel_size)
    pads = tuple(arithmetic.resolve_axis_padding(padding, size, k, stride, 1) for k in kernels)
    return ConvProblem(backend=backend_name, device=device, rank=rank, batch=batch, spatial=(size,) * rank,
                       channels=channels, filters=filters, kernel_size=kernels, groups=1,
                       strides=(stride,) * rank, dilation_rate=(1,) * rank, padding=pads,
                       padding_mode="zeros", dtype=dtype, data_format="channels_last",
                       training=training)
