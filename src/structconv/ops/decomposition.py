"""Convolution above rank 3 as a sum of lower-rank convolutions, written once in `keras.ops`.

A convolution of rank `r` is decomposed onto the backend's fast native convolution of rank `m`
(`DECOMPOSE_TO_RANK`): the leading `r - m` spatial axes are *peeled*. For every combination of kernel taps on
the peeled axes (and only those: the loop never runs over output frames), the input frames that tap reads
are sliced with the stride, folded into the batch, convolved with that tap's rank-`m` kernel slice, and
accumulated. The output frames come back out of the batch at the end. Gradients follow by autodiff of the
slices, reshapes and native convolutions, so they are exactly those of the direct convolution.

The transposed convolution peels the same way: each tap's rank-`m` transposed convolution is spread by the
stride and shifted by `tap * dilation` along the peeled axes before it is accumulated.
"""

import itertools

from keras import ops

from structconv.ops.padding import pad_axis, slice_axis


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


def decomposed_conv(x, kernel, args, padding, lower_conv, target_rank, layout):
    """Zero-padded convolution of rank `args.rank` through `lower_conv` of rank `target_rank`."""
    rank = args.rank
    peeled = rank - target_rank
    permutation = _internal_permutation(rank, peeled, args.data_format, layout)
    x = _permute(x, permutation)
    for axis in range(peeled):
        x = pad_axis(x, 1 + axis, *padding[axis])
    kernel_size = kernel.shape[:peeled]
    strides, dilation = args.strides[:peeled], args.dilation_rate[:peeled]
    outputs = [
        (n - (k - 1) * d - 1) // s + 1
        for n, k, s, d in zip(x.shape[1 : 1 + peeled], kernel_size, strides, dilation)
    ]
    frame_shape = tuple(x.shape[1 + peeled :])
    total = None
    for taps in itertools.product(*(range(k) for k in kernel_size)):
        window = x[
            (slice(None),)
            + tuple(
                slice(t * d, t * d + (o - 1) * s + 1, s)
                for t, d, o, s in zip(taps, dilation, outputs, strides)
            )
        ]
        frames = ops.reshape(window, (-1, *frame_shape))
        partial = lower_conv(
            frames,
            kernel[taps],
            args.strides[peeled:],
            padding[peeled:],
            args.dilation_rate[peeled:],
            args.groups,
            layout,
        )
        total = partial if total is None else ops.add(total, partial)
    y = ops.reshape(total, (-1, *outputs, *total.shape[1:]))
    return _permute(y, _inverse(permutation))


def _spread(x, axis, stride):
    """Inserts `stride - 1` zeros between the entries of `axis`: `1 2 3` -> `1 0 2 0 3` for stride 2."""
    if stride == 1:
        return x
    size = x.shape[axis]
    stacked = ops.stack([x] + [ops.zeros_like(x)] * (stride - 1), axis=axis + 1)
    shape = list(stacked.shape)
    merged = ops.reshape(stacked, [-1 if i == 0 else v for i, v in enumerate(
        shape[:axis] + [size * stride] + shape[axis + 2 :])])
    return slice_axis(merged, axis, 0, (size - 1) * stride + 1)


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
    total = None
    for taps in itertools.product(*(range(k) for k in kernel_size)):
        partial = lower_conv_transpose(
            frames, kernel[taps], args.strides[peeled:], args.dilation_rate[peeled:], layout
        )
        partial = ops.reshape(partial, (-1, *sizes, *partial.shape[1:]))
        for axis, (t, k, s, d) in enumerate(zip(taps, kernel_size, strides, dilation)):
            partial = _spread(partial, 1 + axis, s)
            partial = pad_axis(partial, 1 + axis, t * d, (k - 1 - t) * d)
        total = partial if total is None else ops.add(total, partial)
    return _permute(total, _inverse(permutation))
