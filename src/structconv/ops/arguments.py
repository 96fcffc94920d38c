"""Checks and normalises the arguments shared by `conv`, `conv_transpose` and the layers.

Everything here is pure Python over static shapes, so a layer can check its arguments when it is
constructed, before it sees an input.
"""

import dataclasses

from structconv.errors import invalid_argument
from structconv.shapes import arithmetic

ALGORITHMS = ("auto", "direct", "fft")


def normalize_algorithm(algorithm):
    if isinstance(algorithm, str) and algorithm.lower() in ALGORITHMS:
        return algorithm.lower()
    raise invalid_argument("algorithm", algorithm, " or ".join(repr(a) for a in ALGORITHMS))


@dataclasses.dataclass(frozen=True)
class ConvArguments:
    """The normalised per-axis arguments of one convolution."""

    rank: int
    strides: tuple
    padding: tuple
    dilation_rate: tuple
    groups: int
    data_format: str
    padding_mode: str = "zeros"
    output_padding: tuple = ()
    algorithm: str = "auto"


def check_rank(rank, name="rank"):
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise invalid_argument(name, rank, "an int >= 1 (the number of spatial axes)")
    return rank


def resolve_rank(rank, hint, hint_name, fixed_rank=None):
    """The number of spatial axes of a layer: `rank`, the class's fixed rank, or the length of a tuple
    argument `hint` (named `hint_name`: `kernel_size`, `pool_size`, ...)."""
    if rank is not None:
        check_rank(rank)
        if fixed_rank is not None and rank != fixed_rank:
            raise invalid_argument("rank", rank, f"{fixed_rank} (this class is rank {fixed_rank})")
        return rank
    if fixed_rank is not None:
        return fixed_rank
    if isinstance(hint, (tuple, list)) and hint:
        return len(hint)
    raise invalid_argument(
        "rank", rank,
        f"an int >= 1, or a tuple `{hint_name}` with one entry per spatial axis from which to infer it",
    )


def check_groups(groups):
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise invalid_argument("groups", groups, "an int >= 1")
    return groups


def conv_arguments(rank, strides=1, padding="valid", dilation_rate=1, groups=1, data_format=None,
                   padding_mode="zeros", output_padding=None, default_data_format="channels_last",
                   algorithm="auto"):
    """Normalises and checks convolution arguments for `rank` spatial axes."""
    check_rank(rank)
    strides = arithmetic.normalize_tuple(strides, rank, "strides")
    return ConvArguments(
        rank=rank,
        strides=strides,
        padding=arithmetic.normalize_padding(padding, rank),
        dilation_rate=arithmetic.normalize_tuple(dilation_rate, rank, "dilation_rate"),
        groups=check_groups(groups),
        data_format=arithmetic.normalize_data_format(data_format, default_data_format),
        padding_mode=arithmetic.normalize_padding_mode(padding_mode),
        output_padding=arithmetic.validate_output_padding(output_padding, strides, rank),
        algorithm=normalize_algorithm(algorithm),
    )


def split_shape(shape, data_format):
    """Returns `(spatial_shape, channels)` of an input shape `(batch, ..., channels)` or channels_first."""
    if data_format == "channels_last":
        return tuple(shape[1:-1]), shape[-1]
    return tuple(shape[2:]), shape[1]


def join_shape(batch, spatial, channels, data_format):
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def check_input_rank(input_shape, rank, name="inputs"):
    if len(input_shape) != rank + 2:
        raise invalid_argument(
            name,
            f"a tensor of shape {tuple(input_shape)}",
            f"a tensor of rank {rank + 2} (batch, {rank} spatial axes, channels) to match the kernel",
        )


def check_kernel(kernel_shape, input_channels, args, *, transposed=False):
    """Checks a kernel's shape against the input's channels and `groups`; returns `kernel_size`."""
    rank = args.rank
    if len(kernel_shape) != rank + 2:
        raise invalid_argument(
            "kernel",
            f"a tensor of shape {tuple(kernel_shape)}",
            f"a kernel of rank {rank + 2} ({rank} spatial axes, then "
            + ("filters, in_channels" if transposed else "in_channels // groups, filters")
            + f") for an input with {rank} spatial axes",
        )
    kernel_size = tuple(kernel_shape[:rank])
    if any(k < 1 for k in kernel_size):
        raise invalid_argument("kernel", f"a tensor of shape {tuple(kernel_shape)}", "kernel sizes >= 1")
    if transposed:
        if input_channels is not None and kernel_shape[-1] != input_channels:
            raise invalid_argument(
                "kernel",
                f"a tensor of shape {tuple(kernel_shape)}",
                f"its last axis equal to the input's {input_channels} channels",
            )
        return kernel_size
    groups = args.groups
    filters = kernel_shape[-1]
    if filters % groups:
        raise invalid_argument(
            "groups", groups, f"a divisor of the number of filters ({filters})"
        )
    if input_channels is not None:
        if input_channels % groups:
            raise invalid_argument(
                "groups", groups, f"a divisor of the number of input channels ({input_channels})"
            )
        if kernel_shape[-2] * groups != input_channels:
            raise invalid_argument(
                "kernel",
                f"a tensor of shape {tuple(kernel_shape)}",
                f"kernel.shape[-2] * groups == input channels, i.e. {kernel_shape[-2]} * {groups} == "
                f"{input_channels}",
            )
    return kernel_size


def resolve_padding(spatial_shape, kernel_size, args):
    """Per-axis `(before, after)` padding, checking that every axis has an output.

    `None` stands for "same" padding with strides > 1 on an axis whose size is unknown when traced (a
    fully convolutional model on a new image size): see `check_run_time_padding`.
    """
    pads = []
    for axis, (n, k, s, d, entry) in enumerate(
        zip(spatial_shape, kernel_size, args.strides, args.dilation_rate, args.padding)
    ):
        pair = arithmetic.resolve_axis_padding(entry, n, k, s, d)
        if n is not None:
            extent = arithmetic.effective_kernel_size(k, d)
            if n + pair[0] + pair[1] < extent:
                raise invalid_argument(
                    "kernel_size",
                    tuple(kernel_size),
                    f"a kernel whose dilated extent ({extent} on spatial axis {axis}) fits in the padded "
                    f"input ({n} + {pair[0]} + {pair[1]})",
                )
            _check_mode_padding(args.padding_mode, n, pair, axis)
        pads.append(pair)
    return tuple(pads)


def check_run_time_padding(padding, args, backend):
    """Raises unless `backend` can pad at run time the axes whose "same" padding is unknown (`None`)."""
    unknown = [axis for axis, pair in enumerate(padding) if pair is None]
    if not unknown:
        return
    if not backend.DYNAMIC_SAME_PADDING or args.rank > 3 or args.padding_mode != "zeros":
        raise invalid_argument(
            "inputs",
            f"a tensor with unknown size on spatial axes {tuple(unknown)}",
            "a known size on every spatial axis where padding='same' is used with strides > 1 (unknown "
            "sizes are supported only on TensorFlow, for ranks <= 3 with padding_mode='zeros')",
        )


def _check_mode_padding(mode, size, pair, axis):
    if mode == "reflect" and max(pair) >= size:
        raise invalid_argument(
            "padding",
            pair,
            f"reflect padding smaller than the input size {size} on spatial axis {axis}",
        )
    if mode == "circular" and max(pair) > size:
        raise invalid_argument(
            "padding",
            pair,
            f"circular padding no larger than the input size {size} on spatial axis {axis}",
        )
