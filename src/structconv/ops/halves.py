"""A convolution (or a full transposed one) of a batch of one as two halves stacked along the batch, written
once in `keras.ops`.

PyTorch's CPU convolution picks its kernel by a rule of thumb: a float32 3-D convolution of a single item
whose kernel is at most 3 taps along one of its last two axes, and whose `channels * depth * height` is at
most 20480, runs on ATen's own loops instead of oneDNN, which the same convolution of two items gets.
There it ran 3-10x slower (raw torch, channels_first: a 50^3 volume, 8 -> 8 channels, k=3, "valid": 46.6
ms against 5.9 as two halves, with gradients 136 against 20; 2 threads of an AVX-512 AMD EPYC, torch
2.13). Cutting the outputs along the first spatial axis into two halves, each with the input window it
reads, and stacking the windows along the batch runs the same convolution through oneDNN at the cost of a
copy of the input and of the output (`benchmarks/torch_single_item.py`: 0.09-0.62x the time of
`keras.ops.conv` at 1-16 channels, 24^3-128^3). On small volumes the halves' fixed cost, about 0.15 ms,
loses (8^3, one channel: 0.18 ms against 0.04): the planner offers them beside the convolution as it is
(`direct:halves`; `_backend` README: `slow_single_item`), priced so that the model alone takes them past
that overhead, and measuring times both.

The same rule sends a transposed convolution of one item to ATen's loops (raw torch, 32^3, 8 -> 8, k=3:
16.6 ms, against 7.2 ms for two items). Its halves are the input's: each half's full transposed convolution
is one of two items, and the two overlap-add where their outputs meet.

Gradients follow by autodiff of the slices, the padding and the backend's convolution.
"""

from keras import ops

from structconv.ops.padding import pad_axis, slice_axis
from structconv.shapes.arithmetic import halves_of_axis


def halves_conv(inputs, kernel, problem, padding, conv):
    """`conv(inputs, kernel, ...)` (the backend's convolution) of a batch of one, `problem`'s, with zero
    `padding` pairs per spatial axis (other padding modes applied by the caller), as two halves of the
    outputs along the first spatial axis stacked along the batch."""
    axis = 1 if problem.data_format == "channels_last" else 2
    before, after = padding[0]
    x = pad_axis(inputs, axis, before, after)
    size = x.shape[axis]  # padded already where the mode is not zeros: `padding` is then all zeros
    first, window, offset = halves_of_axis(problem.outputs[0], problem.strides[0], problem.extents[0])
    head = slice_axis(x, axis, 0, window)
    tail = slice_axis(x, axis, offset, min(offset + window, size))
    tail = pad_axis(tail, axis, 0, max(0, offset + window - size))
    y = conv(ops.concatenate([head, tail], axis=0), kernel, problem.strides, ((0, 0), *padding[1:]),
             problem.dilation_rate, problem.groups, problem.data_format)
    second = problem.outputs[0] - first
    return ops.concatenate([y[:1], slice_axis(y[1:], axis, 0, second)], axis=axis)


def halves_conv_transpose_full(inputs, kernel, problem, conv_transpose):
    """`conv_transpose(inputs, kernel, ...)` (the backend's full transposed convolution) of a batch of one,
    `problem`'s, as the transposed convolutions of two halves of the input along the first spatial axis,
    stacked along the batch, then added where their outputs overlap."""
    axis = 1 if problem.data_format == "channels_last" else 2
    size = problem.spatial[0]
    # The halves of the convolution this one is the adjoint of: its outputs are this one's inputs.
    first, window, offset = halves_of_axis(size, problem.strides[0], problem.extents[0])
    head = slice_axis(inputs, axis, 0, first)
    tail = pad_axis(slice_axis(inputs, axis, first, size), axis, 0, 2 * first - size)
    y = conv_transpose(ops.concatenate([head, tail], axis=0), kernel, problem.strides, problem.dilation_rate,
                       problem.data_format)
    full = problem.padded[0]
    head = pad_axis(y[:1], axis, 0, full - window)
    tail = pad_axis(slice_axis(y[1:], axis, 0, full - offset), axis, offset, 0)
    return head + tail
