"""PyTorch convolutions of the backend tier (see README.md): torch's own convolution of rank 1-3, ATen's
im2col convolution beside it, the full transposed convolution, and when the planner may try the ways around
oneDNN's slower paths (`slow_single_item`, `im2col_helps`, `channels_first_copy`); `torch.py` exports them
under the backend tier's names.
"""

import torch
import torch.nn.functional as F

from structconv._backend import in_one_window_form
from structconv.shapes.arithmetic import one_input_strides

# The most entries of a batch's im2col matrix where ATen's own convolution is a candidate (`im2col_helps`).
_IM2COL_MAX_COLUMNS = 2**24

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _to_torch_kernel(kernel, rank):
    """Keras (*k, in, out) -> torch (out, in, *k); for transposed kernels (*k, out, in) -> (in, out, *k).

    With one filter (one input channel, transposed) the permuted view reads as channels-last memory; beside
    a channels-last input torch then gives the kernel's gradient that format, which ATen's own 2-D loops
    refuse ("slow_conv2d: grad_weight must be contiguous"; they run float64, and float32 where oneDNN is
    bypassed, e.g. a batch of one small image: `keras.ops.conv` fails there too). Such a kernel is copied
    contiguous (its in x taps entries)."""
    kernel = kernel.permute(rank + 1, rank, *range(rank))
    return kernel.contiguous() if kernel.shape[0] == 1 else kernel


def _channels_first_padded(x, padding, data_format):
    """`x` channels-first, and the symmetric padding per spatial axis the convolution takes (an uneven
    `(before, after)` padding applied here instead, leaving zeros)."""
    rank = x.ndim - 2
    if data_format == "channels_last":
        x = x.movedim(rank + 1, 1)  # not -1: torch.onnx writes it into the Transpose perm as is
    if all(before == after for before, after in padding):
        return x, tuple(before for before, _ in padding)
    return F.pad(x, [value for pair in reversed(padding) for value in pair]), (0,) * rank


def _in_format(y, data_format):
    """A channels-first result `y` in `data_format`."""
    return y.movedim(1, y.ndim - 1) if data_format == "channels_last" else y


def _narrow(x, axis, length):
    """`x` cut to its first `length` entries along `axis` (a view)."""
    return x.narrow(axis, 0, length)


def conv(x, kernel, strides, padding, dilation_rate, groups, data_format):
    rank = x.ndim - 2
    first = 1 if data_format == "channels_last" else 2
    x, strides, padding = in_one_window_form(x, first, kernel, strides, padding, dilation_rate, _narrow)
    x, native_padding = _channels_first_padded(x, padding, data_format)
    y = _CONV[rank](
        x,
        _to_torch_kernel(kernel, rank),
        stride=strides,
        padding=native_padding,
        dilation=dilation_rate,
        groups=groups,
    )
    return _in_format(y, data_format)


def slow_single_item(rank, channels, spatial, kernel_size, groups, dtype, device):
    """Whether `conv` of rank `rank` of a batch of one (`channels`, `spatial` sizes, `kernel_size`, ungrouped)
    takes a slower path than the same convolution of two items (`ops.halves`), by ATen's rule of thumb
    (`ConvParams::use_mkldnn`): a single float32 item on the CPU whose kernel has at most 3 taps along one
    of its last two axes and whose `channels * spatial[0] * spatial[1]` is at most 20480 skips oneDNN. Only
    at rank 3 does that cost much: the 3-D loops ran 3-10x slower than oneDNN's (`ops.halves`), the 1-D
    and 2-D ones under 0.4 ms slower where the rule holds."""
    mkldnn = torch.backends.mkldnn
    return (device == "cpu" and rank == 3 and dtype == "float32" and groups == 1
            and mkldnn.is_available() and mkldnn.enabled
            and not (kernel_size[-1] > 3 and kernel_size[-2] > 3)
            and channels * spatial[0] * spatial[1] <= 20480)


def channels_first_copy(x):
    """`(N, *spatial, C)` as a contiguous `(N, C, *spatial)` tensor (not a view in channels-last memory)."""
    return x.movedim(-1, 1).contiguous()


def im2col_helps(rank, data_format, channels, filters, groups, dtype, device, columns):
    """Whether ATen's own CPU convolution (`conv_im2col`: im2col and a matrix product, oneDNN bypassed) is a
    candidate beside `conv`: ungrouped float32 on the CPU with at most 4 input or output channels, 1-D, or
    2-D on channels_first data. oneDNN runs some such 1-D convolutions on its reference loops
    (`ONEDNN_VERBOSE=1`: `ref:any`): 2367 samples, k=79, 2 -> 2, batch 2 took 3.8 ms forward where the same
    at 4096 samples took 0.36 ms and im2col 0.32 ms; 2-D channels_first ones of 1-2 input channels ran
    1.1-2.8x faster by im2col; on channels_last data (which oneDNN runs as it is, im2col on a copy) and
    with more channels oneDNN's own kernels won by 1.3-12x (2-vCPU Intel Xeon with AVX-512,
    `benchmarks/torch_im2col.py`). `columns`: the entries of the im2col matrix ATen builds for the whole
    batch (batch x outputs x taps x input channels), at most `_IM2COL_MAX_COLUMNS` (64 MB in float32):
    where it won, at most 2.4M; at 41-237M (batch 8) it ran 5-10x slower than oneDNN, and measuring it took
    up to 0.3 s a call (`benchmarks/auto_vs_forced.py`, session 42)."""
    return (device == "cpu" and dtype == "float32" and groups == 1 and min(channels, filters) <= 4
            and (rank == 1 or (rank == 2 and data_format == "channels_first"))
            and columns <= _IM2COL_MAX_COLUMNS)


def conv_im2col(x, kernel, strides, padding, dilation_rate, data_format):
    """`conv` (ungrouped, rank 1 or 2, on the CPU) by ATen's own convolution: a 1-D one as 2-D of height 1,
    on a contiguous channels-first copy (its loops ran a channels-last view 5x slower), undilated by
    `thnn_conv2d`, dilated by `slow_conv_dilated2d`, each with its own gradient."""
    rank = x.ndim - 2
    x, pads = _channels_first_padded(x, padding, data_format)
    kernel = _to_torch_kernel(kernel, rank)
    pads, strides, dilation_rate = list(pads), list(strides), list(dilation_rate)
    if rank == 1:
        x, kernel = x.unsqueeze(2), kernel.unsqueeze(2)
        pads, strides, dilation_rate = [0, *pads], [1, *strides], [1, *dilation_rate]
    x, kernel = x.contiguous(), kernel.contiguous()
    size = list(kernel.shape[2:])
    if any(d != 1 for d in dilation_rate):
        y = torch.ops.aten.slow_conv_dilated2d(x, kernel, size, None, strides, pads, dilation_rate)
    else:
        y = torch.ops.aten.thnn_conv2d(x, kernel, size, None, strides, pads)
    return _in_format(y.squeeze(2) if rank == 1 else y, data_format)


def conv_transpose(x, kernel, strides, dilation_rate, data_format):
    """The full transposed convolution, with stride 1 on axes of one input sample
    (`shapes.arithmetic.one_input_strides`): its input gradient is a convolution with one output position
    there, which oneDNN got wrong into one filter with a stride over one (channels-last inputs: 5 of
    102 random shapes with such a last axis, several channels and a batch over one; `in_one_window_form`)."""
    rank = x.ndim - 2
    if data_format == "channels_last":
        x = x.movedim(rank + 1, 1)  # not -1: torch.onnx writes it into the Transpose perm as is
    strides = one_input_strides(tuple(x.shape[2:]), strides)
    y = _CONV_TRANSPOSE[rank](
        x, _to_torch_kernel(kernel, rank), stride=strides, dilation=dilation_rate
    )
    return _in_format(y, data_format)
