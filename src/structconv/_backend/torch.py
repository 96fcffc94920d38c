"""PyTorch implementation of the backend tier (see README.md)."""

import torch
import torch.nn.functional as F

PREFERRED_DATA_FORMAT = "channels_first"
# How convolutions above rank 3 run (see structconv.ops.decomposition), measured by
# benchmarks/calibrate_decomposition.py on the 2-core CPU machine (docs/benchmarks.md): oneDNN's conv3d
# is the fastest native convolution and gains from many input channels.
DECOMPOSE_TO_RANK = 3
# Stacking along the filters convolves every input frame once and copies no input windows: forward 0.6-0.7x
# the time of "inputs" at ranks 4-6 (benchmarks/calibrate_decomposition.py). Its backward pass grows with
# the peeled taps: with gradients it wins at 3 taps (rank 4, k=3: 56 ms against 74 forward + backward) and
# loses from 9 (rank 5: 130 against 95; rank 6, 27 taps: 1691 against 233).
DECOMPOSE_STACKING = "filters"
DECOMPOSE_FILTERS_MAX_TAPS = 3
DECOMPOSE_STACKING_INFERENCE = "filters"  # no gradient, no limit on the taps


def needs_gradient(*tensors):
    """Whether autograd will differentiate through an op on `tensors` (eager PyTorch knows it up front)."""
    return torch.is_grad_enabled() and any(getattr(t, "requires_grad", False) for t in tensors)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _to_torch_kernel(kernel, rank):
    # Keras (*k, in, out) -> torch (out, in, *k); for transposed kernels (*k, out, in) -> (in, out, *k).
    return kernel.permute(rank + 1, rank, *range(rank))


def conv(x, kernel, strides, padding, dilation_rate, groups, data_format):
    rank = x.ndim - 2
    if data_format == "channels_last":
        x = x.movedim(rank + 1, 1)  # not -1: torch.onnx writes it into the Transpose perm as is
    if all(before == after for before, after in padding):
        native_padding = tuple(before for before, _ in padding)
    else:
        pairs = [value for pair in reversed(padding) for value in pair]
        x = F.pad(x, pairs)
        native_padding = 0
    y = _CONV[rank](
        x,
        _to_torch_kernel(kernel, rank),
        stride=strides,
        padding=native_padding,
        dilation=dilation_rate,
        groups=groups,
    )
    if data_format == "channels_last":
        y = y.movedim(1, rank + 1)
    return y


def conv_transpose(x, kernel, strides, dilation_rate, data_format):
    rank = x.ndim - 2
    if data_format == "channels_last":
        x = x.movedim(rank + 1, 1)  # not -1: torch.onnx writes it into the Transpose perm as is
    y = _CONV_TRANSPOSE[rank](
        x, _to_torch_kernel(kernel, rank), stride=strides, dilation=dilation_rate
    )
    if data_format == "channels_last":
        y = y.movedim(1, rank + 1)
    return y


def rfftn(x, axes, lengths):
    """Real N-D FFT over `axes` (trailing axes), zero-padding each to its length in `lengths`."""
    return torch.fft.rfftn(x, s=tuple(lengths), dim=tuple(axes))


def irfftn(x, axes, lengths):
    """Inverse of `rfftn`: a real tensor with `lengths` along `axes`."""
    return torch.fft.irfftn(x, s=tuple(lengths), dim=tuple(axes))


def fft_axis_order(rank):
    """The order of the spatial axes in the spectrum of `fftn`: natural (torch transforms any axes)."""
    return tuple(range(rank))


def fftn(x, lengths):
    """Complex FFT of `(B, C, *spatial)` over every spatial axis, zero-padded to `lengths`."""
    return torch.fft.fftn(x, s=tuple(lengths), dim=tuple(range(2, x.ndim)))


def ifftn(x):
    """Inverse of `fftn`."""
    return torch.fft.ifftn(x, dim=tuple(range(2, x.ndim)))


def einsum(subscripts, *operands):
    """`einsum` that keeps complex128 (Keras's promotion rules turn it into complex64 on some backends).

    Operands are made contiguous first: on permuted views torch's batched matrix product takes a strided
    path that measured 7x slower (complex64, 16 x 16 channels per frequency: 82 ms against 12 ms)."""
    return torch.einsum(subscripts, *(operand.contiguous() for operand in operands))


def complex(real, imag):  # noqa: A001  (the backend tier mirrors the frameworks' names)
    """The complex tensor `real + i imag` (`keras.ops` has no constructor for one)."""
    return torch.complex(real, imag)
