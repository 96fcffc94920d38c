"""A convolution of an odd number of input channels run on one zero channel more, written once in
`keras.ops`.

JAX's CPU convolution (XLA, which hands 2-D convolutions to its YNNPACK kernels) ran some 2-D convolutions
of an odd number of input channels 3-15x slower than the same convolution of one channel more: on 2 threads
of an Intel Xeon (jaxlib 0.10.2), a 224^2 RGB image by a 7x7 kernel into 21 filters 43.6 ms against 2.9 ms
with 4 input channels, 8 x 56^2 by 3x3 into 17-24 filters 4.2 ms against 0.4, into 32 filters 1.6 against
0.3 (training steps 1.3-2.1x); with 16 or 64 filters, or without YNNPACK
(`--xla_cpu_experimental_ynn_fusion_type=`), odd and even counts ran alike. Its N-D decomposition onto
2-D convolutions meets the same (a 4-D 13^4 k=3 3 -> 3 forward stacked along the filters runs 3 -> 27
convolutions: 3.96 ms, modelled at 0.90). Which counts fall off the fast path is the library's business
and moves between versions: the planner offers the convolution on padded channels as a candidate of its
own where the backend says odd counts can be slow (`_backend` README: `odd_channels_slow`), priced at its
extra flops, and measuring decides (`Plan.even_channels`, label suffix `:even`). Without measuring, the
model prices the plain convolution by the factor `structconv calibrate` measured on this machine
(`tuning.odd_channels`, `Strategy.odd_channel_factors`).

The padded input channel reads a zero kernel slice, so the result is exact; gradients follow by autodiff
of the padding (the padded slices' gradients are dropped).
"""

import dataclasses

from structconv._backend import get_backend
from structconv.ops.padding import pad_axis

# A probed factor (`Strategy.odd_channel_factor`) prices the plain convolution only above this: the probe's
# small convolutions ran plain and padded alike within 0.8-1.3x where nothing was slow (noise, and padding
# nearly free at its size), which would otherwise price the plain plan up to its twin's extra flops and
# hand the twin ties (a JAX 4-D 18^4 3 -> 12 training step, 27 -> 12 channels: factor 1.02).
SLOW_FACTOR = 1.2


def padded_channels(channels, groups=1):
    """The count of input channels a convolution of `channels` runs on: one more where it is odd and over
    one, ungrouped; else the same."""
    return channels + 1 if groups == 1 and channels > 1 and channels % 2 else channels


def even_channels_conv(conv):
    """`conv` (the backend's, `conv(x, kernel, strides, padding, dilation_rate, groups, data_format)`) that
    runs a convolution of an odd number of input channels over one on one zero channel more (`x`'s and the
    kernel's input-channel axis), and any other as it is."""

    def padded(x, kernel, strides, padding, dilation_rate, groups, data_format):
        channels = kernel.shape[-2]
        extra = padded_channels(channels, groups) - channels
        if extra:
            x = pad_axis(x, len(x.shape) - 1 if data_format == "channels_last" else 1, 0, extra)
            kernel = pad_axis(kernel, len(kernel.shape) - 2, 0, extra)
        return conv(x, kernel, strides, padding, dilation_rate, groups, data_format)

    return padded


def with_even_channels(problem, strategy, plans, conv_of):
    """`plans` (direct, of an ungrouped convolution `problem`, not transposed), and beside each whose
    backend convolution (`conv_of(plan)`: its rank, input channels and filters) the backend says may be
    slow on an odd count (`odd_channels_slow`), the same on one channel more, priced (and its
    `uncertain_us` scaled) at its extra flops; not torch's `im2col` convolution, which is not the
    backend's `conv`. Where this machine's factor for such a convolution was probed
    (`strategy.odd_channel_factor`, `tuning.odd_channels`) over `SLOW_FACTOR`, the plain plan is priced at
    least at the padded one's price times it."""
    if problem.transposed or problem.groups != 1:
        return plans
    backend, found = get_backend(), []
    for plan in plans:
        if plan.direct == "im2col":
            found.append(plan)
            continue
        rank, channels, filters = conv_of(plan)
        if not backend.odd_channels_slow(rank, channels, problem.groups, problem.dtype, problem.device):
            found.append(plan)
            continue
        twin = plan.scaled(padded_channels(channels) / channels, even_channels=True)
        factor = strategy.odd_channel_factor(channels, filters, problem.training)
        if factor is not None and factor > SLOW_FACTOR:
            plan = dataclasses.replace(plan, modelled_us=max(plan.modelled_us, twin.modelled_us * factor))
        found.append(plan)
        found.append(twin)
    return found
