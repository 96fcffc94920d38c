"""Convolution above rank 3 as a sum of lower-rank convolutions, written once in `keras.ops`.

A convolution of rank `r` is decomposed onto the backend's fast native convolution of rank `m`
(`DECOMPOSE_TO_RANK`): the leading `r - m` spatial axes are *peeled*. Each combination of kernel taps on the
peeled axes (and only those: nothing loops over output frames) contributes one rank-`m` convolution of
input frames, folded into the batch, with that tap's rank-`m` kernel slice. The output frames come back out
of the batch at the end. Gradients follow by autodiff of the slices, reshapes and native convolutions, so
they are exactly those of the direct convolution.

One native call per tap is slow: with few channels each call is too small to use the machine, and each
call, slice and partial sum allocates. So the taps are *stacked* into one native call (in chunks of at
most `MAX_STACK_BYTES`), one of two ways, which the plan names (`ops.planner`: the profile's preference,
or measured):

- `"inputs"`: the input frames each tap reads are concatenated along the channels (im2col over the peeled
  axes only) and convolved once with the taps' kernels concatenated along their input-channel axis.
  Only the frames that are needed are computed. Best where the native convolution is efficient with many
  input channels (oneDNN: torch, TensorFlow).
- `"filters"`: all input frames are convolved once with the taps' kernels concatenated along the filters;
  each tap's block of filters is then shifted along the peeled axes and summed. It computes the frames
  that no tap needs too ((size / output size) ** peeled more work), but keeps the input channels few,
  which is what XLA's CPU convolution needs to be fast (JAX). Its backward pass materialises one
  stacked-output-sized gradient per tap, so it loses with many peeled taps when training; grouped
  convolutions stack inputs.

The transposed convolution peels the same way: each tap's rank-`m` transposed convolution of the same input
frames (one native call for all taps, their kernels stacked along the filters) is spread by the stride and
shifted by `tap * dilation` along the peeled axes before it is accumulated.
"""

import itertools
import math

import keras
from keras import ops

from structconv._backend import get_backend
from structconv.ops.padding import pad_axis, spread
from structconv.shapes.arithmetic import tap_window

# Upper bound on the one stacked tensor (stacked input windows, or stacked outputs) materialized at a time;
# above it the taps are split into several native calls. Training keeps every window alive for the
# backward pass whether stacked or not, so this only bounds the peak of a forward (inference) pass.
MAX_STACK_BYTES = 256 * 2**20

_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def _internal_permutation(rank, peeled, data_format, layout):
    """Axis order that puts the peeled axes right after the batch and the rest in the backend's layout."""
    if data_format == "channels_last":
        spatial, channel = list(range(1, rank + 1)), rank + 1
    else:
        spatial, channel = list(range(2, rank + 2)), 1
    head = [0] + spatial[:peeled]
    if layout == "channels_first":
        return head + [channel] + spatial[peeled:]
    return head + spatial[peeled:] + [channel]


def _permute(x, permutation):
    if permutation == sorted(permutation):
        return x
    return ops.transpose(x, permutation)


def _inverse(permutation):
    inverse = [0] * len(permutation)
    for position, axis in enumerate(permutation):
        inverse[axis] = position
    return inverse


def _chunks(taps, bytes_per_tap):
    """Splits the list of taps into runs whose stacked tensor stays within `MAX_STACK_BYTES`."""
    size = max(1, MAX_STACK_BYTES // max(1, bytes_per_tap))
    return [taps[start : start + size] for start in range(0, len(taps), size)]


def _bytes(shape, dtype):
    """Bytes of a tensor of `shape`; an unknown (None, or symbolic under jax.export) batch counts as 1."""
    return math.prod(n if isinstance(n, int) else 1 for n in shape) * _ITEMSIZE.get(
        keras.backend.standardize_dtype(dtype), 4
    )


def _stack_channels(windows, axis, groups):
    """Concatenates `windows` along the channel `axis`, group-major: `(groups, taps, channels // groups)`.

    The stacked kernel (`_stack_kernels`) is `(taps, channels // groups)` in every group, so each group's
    inputs meet its own kernel rows.
    """
    if len(windows) == 1:
        return windows[0]
    if groups == 1:
        return ops.concatenate(windows, axis=axis)
    shape = [-1 if i == 0 else n for i, n in enumerate(windows[0].shape)]
    split = shape[:axis] + [groups, shape[axis] // groups] + shape[axis + 1 :]
    stacked = ops.stack([ops.reshape(w, split) for w in windows], axis=axis + 1)
    return ops.reshape(stacked, shape[:axis] + [len(windows) * shape[axis]] + shape[axis + 1 :])


def _sum(parts):
    total = parts[0]
    for part in parts[1:]:
        total = ops.add(total, part)
    return total


def decomposed_conv(x, kernel, args, padding, lower_conv, target_rank, layout, stacking="inputs"):
    """Zero-padded convolution of rank `args.rank` through `lower_conv` of rank `target_rank`, the peeled
    taps stacked along the `"inputs"` or `"filters"` (`groups == 1` only)."""
    rank = args.rank
    peeled = rank - target_rank
    permutation = _internal_permutation(rank, peeled, args.data_format, layout)
    x = _permute(x, permutation)
    for axis in range(peeled):
        x = pad_axis(x, 1 + axis, *padding[axis])
    kernel_size = kernel.shape[:peeled]
    strides, dilation = args.strides[:peeled], args.dilation_rate[:peeled]
    sizes = tuple(x.shape[1 : 1 + peeled])
    outputs = [(n - (k - 1) * d - 1) // s + 1 for n, k, s, d in zip(sizes, kernel_size, strides, dilation)]
    taps = list(itertools.product(*(range(k) for k in kernel_size)))
    channel_axis = 1 + peeled if layout == "channels_first" else len(x.shape) - 1

    def native(frames, frames_kernel):
        return lower_conv(frames, frames_kernel, args.strides[peeled:], padding[peeled:],
                          args.dilation_rate[peeled:], args.groups, layout)

    def windows(tensor, chunk, blocks=None):
        """For each kernel tap of `chunk` (of the peeled axes), the frames of `tensor` it meets, one per
        output frame (and of those only the channels of its block of `blocks`, slices, where given), each
        in one slice; their gradient is gathered in one tensor-sized buffer where the backend can
        (`slice_windows`)."""
        indices = []
        for i, tap in enumerate(chunk):
            index = [slice(None)] + [tap_window(*axis) for axis in zip(tap, outputs, strides, dilation)]
            if blocks is not None:
                index += [slice(None)] * (channel_axis - len(index)) + [blocks[i]]
            indices.append(tuple(index))
        return get_backend().slice_windows(tensor, indices)

    partials = []
    if stacking == "filters" and args.groups == 1 and len(taps) > 1:
        # One tap's block of the stacked output: every frame, by the rest axes' output, by the filters.
        filters = kernel.shape[-1]
        rest_outputs = [
            (n + before + after - (k - 1) * d - 1) // s + 1
            for n, k, s, d, (before, after) in zip(
                _rest_sizes(x, peeled, layout), kernel.shape[peeled:-2], args.strides[peeled:],
                args.dilation_rate[peeled:], padding[peeled:],
            )
        ]
        frames = ops.reshape(x, (-1, *x.shape[1 + peeled :]))
        for chunk in _chunks(taps, _bytes((x.shape[0], *sizes, *rest_outputs, filters), x.dtype)):
            stacked = native(frames, ops.concatenate([kernel[t] for t in chunk], axis=-1))
            stacked = ops.reshape(stacked, (-1, *sizes, *stacked.shape[1:]))
            blocks = [slice(i * filters, (i + 1) * filters) for i in range(len(chunk))]
            for part in windows(stacked, chunk, blocks):
                partials.append(ops.reshape(part, (-1, *part.shape[1 + peeled :])))
    else:
        for chunk in _chunks(taps, _bytes((x.shape[0], *outputs, *x.shape[1 + peeled :]), x.dtype)):
            stacked = _stack_channels(windows(x, chunk), channel_axis, args.groups)
            frames = ops.reshape(stacked, (-1, *stacked.shape[1 + peeled :]))
            # (*k, taps * channels // groups, filters): rows in the (tap, channel) order of the frames.
            partials.append(native(frames, ops.concatenate([kernel[t] for t in chunk], axis=-2)))
    total = _sum(partials)
    y = ops.reshape(total, (-1, *outputs, *total.shape[1:]))
    return _permute(y, _inverse(permutation))


def _rest_sizes(x, peeled, layout):
    """Sizes of the spatial axes left to the native convolution, in the internal layout."""
    return x.shape[2 + peeled :] if layout == "channels_first" else x.shape[1 + peeled : -1]


def decomposed_conv_transpose(x, kernel, args, lower_conv_transpose, target_rank, layout):
    """The full transposed convolution of rank `args.rank` through `lower_conv_transpose`."""
    rank = args.rank
    peeled = rank - target_rank
    permutation = _internal_permutation(rank, peeled, args.data_format, layout)
    x = _permute(x, permutation)
    sizes = tuple(x.shape[1 : 1 + peeled])
    frames = ops.reshape(x, (-1, *x.shape[1 + peeled :]))
    kernel_size = kernel.shape[:peeled]
    strides, dilation = args.strides[:peeled], args.dilation_rate[:peeled]
    filters = kernel.shape[-2]
    taps = list(itertools.product(*(range(k) for k in kernel_size)))
    # Every tap transposes the same frames: one native call per chunk, the taps' kernels stacked along the
    # filters (axis -2 of a transposed kernel). A tap's block of the full rank-m output, as an upper bound:
    rest = [(n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(
        _rest_sizes(x, peeled, layout), args.strides[peeled:], kernel.shape[peeled:-2],
        args.dilation_rate[peeled:])]
    partials = []
    for chunk in _chunks(taps, _bytes((x.shape[0], *sizes, *rest, filters), x.dtype)):
        stacked = lower_conv_transpose(
            frames,
            ops.concatenate([kernel[t] for t in chunk], axis=-2),
            args.strides[peeled:],
            args.dilation_rate[peeled:],
            layout,
        )
        channel_axis = 1 if layout == "channels_first" else len(stacked.shape) - 1
        # Each tap's block of filters, their gradient gathered in one buffer where the backend can.
        index = (slice(None),) * channel_axis
        blocks = get_backend().slice_windows(
            stacked, [(*index, slice(i * filters, (i + 1) * filters)) for i in range(len(chunk))])
        for tap, block in zip(chunk, blocks):
            partial = ops.reshape(block, (-1, *sizes, *block.shape[1:]))
            for axis, (t, k, s, d) in enumerate(zip(tap, kernel_size, strides, dilation)):
                partial = spread(partial, 1 + axis, s)
                partial = pad_axis(partial, 1 + axis, t * d, (k - 1 - t) * d)
            partials.append(partial)
    return _permute(_sum(partials), _inverse(permutation))
