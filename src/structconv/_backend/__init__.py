"""The backend tier: the few functions `keras.ops` lacks, one module per Keras backend (see README.md)."""

import functools
import importlib

from structconv.errors import invalid_argument
from structconv.shapes.arithmetic import one_window_form

SUPPORTED_BACKENDS = ("tensorflow", "jax", "torch")


@functools.cache
def get_backend():
    """Returns the backend module for the active Keras backend, importing it on first use."""
    import keras

    name = keras.backend.backend()
    if name not in SUPPORTED_BACKENDS:
        raise invalid_argument(
            "KERAS_BACKEND", name, " or ".join(repr(b) for b in SUPPORTED_BACKENDS)
        )
    return importlib.import_module(f"structconv._backend.{name}")


def default_device():
    """The device class ("cpu", "gpu") where the active backend puts new tensors: where a user's layer,
    calibration or a benchmark computes."""
    import keras

    return get_backend().device_of(keras.ops.zeros((1,)))


def trailing_axis_groups(rank, size=3):
    """The spatial axes `0 .. rank - 1` in groups of at most `size`, from the last: how a complex N-D FFT is
    composed from FFTs of the `size` innermost axes (XLA's and TensorFlow's limit is 3).

    >>> trailing_axis_groups(5)
    [(2, 3, 4), (0, 1)]
    >>> trailing_axis_groups(7)
    [(4, 5, 6), (1, 2, 3), (0,)]
    """
    groups, stop = [], rank
    while stop > 0:
        groups.append(tuple(range(max(0, stop - size), stop)))
        stop -= size
    return groups


def grouped_axis_order(rank, size=3):
    """The order of the spatial axes in a spectrum composed by `trailing_axis_groups`: each group is moved
    behind the axes transformed before it, and left there.

    >>> grouped_axis_order(6)
    (3, 4, 5, 0, 1, 2)
    """
    return tuple(axis for group in trailing_axis_groups(rank, size) for axis in group)


def keras_pool(x, window, strides, padding, mode):
    """Max (`mode` "max") or average ("average") pooling of `x`, `(N, *group, T)`, over its 1-3 `group`
    axes by Keras's own pooling (channels_last); the `T` axis (the channels and the axes after the group,
    folded) rides along. `padding` "valid" or "same" (Keras's rule). The `pool` of JAX and TensorFlow, and
    PyTorch's for "same" padding."""
    import keras

    native = keras.ops.max_pool if mode == "max" else keras.ops.average_pool
    return native(x, window, strides, padding, "channels_last")


def summed_channel_products(x, k):
    """`sum over c of x[:, :, c : c + 1] * k[c][None]` as a plain sum of new tensors (see `channel_products`
    in the backend modules): what XLA fuses into one pass."""
    y = x[:, :, 0:1] * k[0][None]
    for c in range(1, x.shape[2]):
        y = y + x[:, :, c : c + 1] * k[c][None]
    return y


def in_one_window_form(x, first, kernel, strides, padding, dilation_rate, narrow):
    """`x`, strides and padding of the same convolution with stride 1 on axes of one output position
    (`shapes.arithmetic.one_window_form`; `first`: the index of `x`'s first spatial axis, `narrow(x, axis,
    length)`: `x` cut to its first `length` entries along `axis`). oneDNN's float32 2-D and 3-D
    convolutions (torch's, and TensorFlow's where it runs oneDNN) of one input channel computed 12-15% of
    random shapes wrong, by as much as the values, where the last spatial axis had one output position
    and a stride over one after an unstrided axis; none in this form (2,500 shapes each; torch 2.13,
    TensorFlow 2.21, a 2-vCPU Intel Xeon with AVX-512; XLA and Eigen never). Through structconv's plans
    the same came out wrong at ranks 2-5, decompositions and torch's channels-first copy included."""
    if all(s == 1 for s in strides):
        return x, strides, padding
    rank = len(strides)
    spatial = tuple(x.shape[first:first + rank])
    strides, lengths, padding = one_window_form(spatial, tuple(kernel.shape[:rank]), strides, padding,
                                                dilation_rate)
    for axis, length in enumerate(lengths):
        if length is not None:
            x = narrow(x, first + axis, length)
    return x, strides, padding
