"""A convolution without padding run with one output row more, on zero padding, and that row cropped,
written once in `keras.ops`.

JAX's 2-D CPU convolutions go to XLA's YNNPACK kernels, which ran convolutions with no padding at all of more
than 16 input channels up to 23x slower than the same convolution given zero padding past the end of its
first spatial axis, one output row more, cropped (2 threads of an Intel Xeon with AVX-512, family 6 model
167, jaxlib 0.10.2; 8 x 54x64, forward: 64 -> 3 by 5x5 59.9 ms against 2.6, 32 -> 2 by 6x6 41.5 against
1.7, 32 -> 4 by 3x3 5.0 against 0.7, 64 -> 64 by 3x3 30.8 against 10.9, by 1x1 1.9 against 1.1; the
gradient of the convolution alone 1.4-6.3x, a model's training step about even; at 16 input channels and
under, alike within 0.9-1.1x). Padding on any side of either axis did the same; padding "same" of kernels
over one tap never met it. Unpadded convolutions are padding "valid", any padding mode but
zeros (the input is padded first), 1x1 kernels, and a decomposition's 2-D convolutions where the problem's
last two axes are unpadded: one of a 3-D 46x54x64 k=6x12x5 16 -> 2 forward, stacking 6 peeled taps along the
inputs, ran 96 -> 2 convolutions at 4.8-6.6 s a call (21 s to its first) where its model said 0.19 s, and
measuring timed it (`benchmarks/auto_vs_forced.py --varied --seed 540`, session 55). Which convolutions fall
off the fast path is the library's business and moves between versions: the planner offers the padded one
as a candidate of its own where the backend says unpadded ones may be slow (`_backend` README:
`unpadded_slow`), priced at its extra row's flops, and measuring decides (`Plan.padded_row`, label suffix
`:row`).

The extra row reads only zero padding past the input's end (a stride's worth of rows, so that the other
rows keep their positions), and is cropped: the result is exact, and gradients follow by autodiff.
"""

import dataclasses
import math

from structconv._backend import get_backend
from structconv.ops.padding import slice_axis


def padded_row_conv(conv):
    """`conv` (the backend's, `conv(x, kernel, strides, padding, dilation_rate, groups, data_format)`) that
    runs a convolution whose `padding` is all zero with a stride's worth of zero padding past the end of
    the first spatial axis, its last output row cropped, and any other as it is."""

    def padded(x, kernel, strides, padding, dilation_rate, groups, data_format):
        if any(pair and any(pair) for pair in padding):
            return conv(x, kernel, strides, padding, dilation_rate, groups, data_format)
        rows = ((0, strides[0]), *padding[1:])
        y = conv(x, kernel, strides, rows, dilation_rate, groups, data_format)
        return slice_axis(y, 1 if data_format == "channels_last" else 2, 0, -1)

    return padded


def with_padded_row(problem, strategy, plans, conv_of):
    """`plans` (direct, of an ungrouped convolution `problem`, not transposed), and beside each whose
    backend convolution (`conv_of(plan)`: its rank, input channels, filters, padding and outputs along its
    axes) has no padding where the backend says that may be slow (`unpadded_slow`), the same with one
    output row more, priced (and its `uncertain_us` scaled) at that row's flops; not torch's `im2col`
    convolution, which is not the backend's `conv`. Where this machine's rate of such convolutions was
    probed (`strategy.unpadded_gflops_per_filter`, `tuning.unpadded`), the plain plan of a forward problem
    is priced at least at its flops at that rate times its convolution's filters (training steps were not
    slowed alike)."""
    if problem.transposed or problem.groups != 1:
        return plans
    backend, found = get_backend(), []
    rate = strategy.unpadded_gflops_per_filter
    for plan in plans:
        if plan.direct == "im2col" or plan.even_channels:
            found.append(plan)
            continue
        rank, channels, filters, padding, outputs = conv_of(plan)
        if any(pair and any(pair) for pair in padding) or not backend.unpadded_slow(
                rank, channels, problem.groups, problem.dtype, problem.device):
            found.append(plan)
            continue
        twin = plan.scaled((outputs[0] + 1) / outputs[0], padded_row=True)
        if rate and not problem.training:
            flops = (2.0 * problem.planned_batch * math.prod(problem.outputs) * math.prod(problem.kernel_size)
                     * problem.channels * problem.filters)
            slow_us = flops / (rate * filters * 1e3)
            plan = dataclasses.replace(plan, modelled_us=max(plan.modelled_us, slow_us))
        found += [plan, twin]
    return found
