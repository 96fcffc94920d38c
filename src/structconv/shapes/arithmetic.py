"""Shape arithmetic of convolution and pooling: argument normalisation, padding resolution, output sizes.

This is the one source of truth for how big a convolution's output is and how much padding it uses. It is
pure Python (no Keras, no NumPy) so that the ops, the layers' `compute_output_shape`, the shape tools and the
command line all agree, and so that it can run before any backend is imported.

Conventions, per spatial axis, for input size `n`, kernel size `k`, stride `s` and dilation `d`, with the
effective kernel extent `e = (k - 1) * d + 1`:

- `"valid"`: no padding; `floor((n - e) / s) + 1` outputs.
- `"same"`: the Keras/TensorFlow convention: `ceil(n / s)` outputs; the total padding
  `max((ceil(n / s) - 1) * s + e - n, 0)` is split with the odd extra element at the end.
- `"full"`: every partial overlap: `e - 1` on both sides.
- `"causal"`: `e - 1` before, nothing after.
- an int `p`: `p` on both sides; a pair `(before, after)`: as given.
"""

from numbers import Integral

from structconv.errors import invalid_argument

PADDING_NAMES = ("valid", "same", "full", "causal")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
DATA_FORMATS = ("channels_last", "channels_first")
_PADDING_ALLOWED = (
    "'valid', 'same', 'full', 'causal', a non-negative int, a (before, after) pair of non-negative ints, "
    "or a tuple with one of these per spatial axis"
)


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def normalize_tuple(value, rank, name, *, minimum=1):
    """Returns `value` as a tuple of `rank` ints, each at least `minimum`.

    An int is repeated `rank` times; a sequence must have exactly `rank` entries.

    >>> normalize_tuple(3, 2, "kernel_size")
    (3, 3)
    >>> normalize_tuple([1, 2, 3], 3, "strides")
    (1, 2, 3)
    """
    allowed = f"an int >= {minimum} or a tuple of {rank} such ints (one per spatial axis)"
    if _is_int(value):
        values = (int(value),) * rank
    elif isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        values = tuple(int(v) for v in value)
        if len(values) != rank:
            raise invalid_argument(
                name, value, allowed, detail=f"It has {len(values)} entries for {rank} spatial axes."
            )
    else:
        raise invalid_argument(name, value, allowed)
    if any(v < minimum for v in values):
        raise invalid_argument(name, value, allowed)
    return values


def normalize_padding(padding, rank):
    """Returns `padding` as a tuple of `rank` per-axis entries, each a name or a `(before, after)` pair.

    >>> normalize_padding("same", 2)
    ('same', 'same')
    >>> normalize_padding(("causal", 1, (0, 2)), 3)
    ('causal', (1, 1), (0, 2))
    """
    if isinstance(padding, str) or _is_int(padding):
        return (_normalize_axis_padding(padding, padding),) * rank
    if isinstance(padding, (tuple, list)):
        entries = tuple(padding)
        # A bare (before, after) pair is ambiguous with a per-axis tuple of two ints for rank 2; Keras reads a
        # tuple as one entry per axis, so we do too, and accept a bare pair only for rank 1.
        if len(entries) != rank:
            raise invalid_argument(
                "padding",
                padding,
                _PADDING_ALLOWED,
                detail=f"A tuple needs one entry per spatial axis: {rank}, got {len(entries)}.",
            )
        return tuple(_normalize_axis_padding(entry, padding) for entry in entries)
    raise invalid_argument("padding", padding, _PADDING_ALLOWED)


def _normalize_axis_padding(entry, padding):
    if isinstance(entry, str):
        name = entry.lower()
        if name not in PADDING_NAMES:
            raise invalid_argument("padding", padding, _PADDING_ALLOWED)
        return name
    if _is_int(entry) and entry >= 0:
        return (int(entry), int(entry))
    if (
        isinstance(entry, (tuple, list))
        and len(entry) == 2
        and all(_is_int(v) and v >= 0 for v in entry)
    ):
        return (int(entry[0]), int(entry[1]))
    raise invalid_argument("padding", padding, _PADDING_ALLOWED)


def normalize_padding_mode(padding_mode):
    """Checks `padding_mode` and returns it in lower case.

    >>> normalize_padding_mode("Reflect")
    'reflect'
    """
    if isinstance(padding_mode, str) and padding_mode.lower() in PADDING_MODES:
        return padding_mode.lower()
    raise invalid_argument("padding_mode", padding_mode, " or ".join(repr(m) for m in PADDING_MODES))


def normalize_data_format(data_format, default="channels_last"):
    """Checks `data_format` (`None` means `default`) and returns it.

    >>> normalize_data_format(None)
    'channels_last'
    """
    if data_format is None:
        return default
    if isinstance(data_format, str) and data_format.lower() in DATA_FORMATS:
        return data_format.lower()
    raise invalid_argument("data_format", data_format, "'channels_last', 'channels_first' or None")


def effective_kernel_size(kernel_size, dilation):
    """The extent a dilated kernel covers: `(k - 1) * d + 1`.

    >>> effective_kernel_size(3, 2)
    5
    """
    return (kernel_size - 1) * dilation + 1


def resolve_axis_padding(entry, size, kernel_size, stride=1, dilation=1):
    """Returns the `(before, after)` padding of one axis for a padding entry of `normalize_padding`.

    `size` may be `None` (unknown) except for `"same"` with a stride above 1, whose padding depends on it;
    then `None` is returned.

    >>> resolve_axis_padding("same", 224, 7, stride=2)
    (2, 3)
    >>> resolve_axis_padding("causal", 10, 3, dilation=2)
    (4, 0)
    """
    extent = effective_kernel_size(kernel_size, dilation)
    if isinstance(entry, tuple):
        return entry
    if entry == "valid":
        return (0, 0)
    if entry == "full":
        return (extent - 1, extent - 1)
    if entry == "causal":
        return (extent - 1, 0)
    # "same"
    if size is None:
        if stride == 1:
            total = extent - 1
            return (total // 2, total - total // 2)
        return None
    outputs = -(-size // stride)
    total = max((outputs - 1) * stride + extent - size, 0)
    return (total // 2, total - total // 2)


def conv_output_size(size, kernel_size, stride=1, padding="valid", dilation=1):
    """The number of outputs of a convolution along one axis, or `None` when `size` is `None`.

    `padding` is one axis's entry: a name, an int or a `(before, after)` pair.

    >>> conv_output_size(28, 7, stride=3)
    8
    >>> conv_output_size(8, 5, stride=2)
    2
    >>> conv_output_size(10, 3, stride=2, padding="same")
    5
    """
    if size is None:
        return None
    entry = normalize_padding((padding,), 1)[0] if not isinstance(padding, tuple) else padding
    before, after = resolve_axis_padding(entry, size, kernel_size, stride, dilation)
    span = size + before + after - effective_kernel_size(kernel_size, dilation)
    if span < 0:
        return 0
    return span // stride + 1


def conv_output_shape(spatial_shape, kernel_size, strides, padding, dilation_rate):
    """Output spatial shape of a convolution; all arguments already normalised to per-axis tuples.

    >>> conv_output_shape((28, 28), (7, 7), (3, 3), ("valid", "valid"), (1, 1))
    (8, 8)
    """
    return tuple(
        conv_output_size(n, k, s, p, d)
        for n, k, s, p, d in zip(spatial_shape, kernel_size, strides, padding, dilation_rate)
    )


def conv_transpose_output_size(size, kernel_size, stride=1, padding="valid", output_padding=None,
                               dilation=1):
    """Length of one axis of a transposed convolution's output, or `None` when `size` is `None`.

    For `"valid"` and `"same"` this is Keras's convention (`output_padding=None` gives `size * stride` plus,
    for `"valid"`, `max(extent - stride, 0)`); for the other forms it is the length `L` whose forward
    convolution with the same padding gives back `size` outputs, plus `output_padding` (default 0).

    >>> conv_transpose_output_size(4, 3, stride=2)
    9
    >>> conv_transpose_output_size(4, 3, stride=2, padding="same")
    8
    >>> conv_transpose_output_size(4, 3, stride=2, padding="same", output_padding=0)
    7
    """
    if size is None:
        return None
    extent = effective_kernel_size(kernel_size, dilation)
    if padding == "valid" and output_padding is None:
        return size * stride + max(extent - stride, 0)
    if padding == "same" and output_padding is None:
        return size * stride
    output_padding = output_padding or 0
    if padding == "same":
        before = after = extent // 2
    elif padding == "valid":
        before = after = 0
    else:
        # Forward pads that do not depend on the (yet unknown) output length.
        before, after = resolve_axis_padding(padding, None, kernel_size, stride, dilation)
    return (size - 1) * stride + extent - before - after + output_padding


def conv_transpose_crop(size, output_size, kernel_size, stride, padding, dilation):
    """How to cut a transposed convolution's output from its *full* output.

    The full output of `size` inputs has `(size - 1) * stride + extent` entries. The result is `(start, end)`
    such that the output is `full[start:start + output_size]`, zero-extended where `start + output_size`
    exceeds the full length: exactly the adjoint of a forward convolution of an input of `output_size` with
    the same padding.
    """
    if padding == "same":
        # TensorFlow's rule (and Keras's on every backend): the "same" padding of a forward convolution
        # from `output_size` back to `size` entries, which holds even when `output_padding` makes the
        # forward convolution of `output_size` give one entry fewer than `size`.
        extent = effective_kernel_size(kernel_size, dilation)
        before = max((size - 1) * stride + extent - output_size, 0) // 2
    else:
        before, _ = resolve_axis_padding(padding, output_size, kernel_size, stride, dilation)
    return before, before + output_size


def validate_output_padding(output_padding, strides, rank):
    """Normalises `output_padding` (`None` or ints) and checks that each entry is below its stride.

    >>> validate_output_padding(None, (2, 2), 2)
    (None, None)
    """
    if output_padding is None:
        return (None,) * rank
    values = normalize_tuple(output_padding, rank, "output_padding", minimum=0)
    for value, stride in zip(values, strides):
        if value >= stride:
            raise invalid_argument(
                "output_padding", output_padding, f"each entry smaller than its stride {tuple(strides)}"
            )
    return values


POOL_PADDINGS = ("valid", "same")


def normalize_pool_padding(padding):
    """Checks a pooling `padding` (Keras's two names) and returns it in lower case.

    >>> normalize_pool_padding("SAME")
    'same'
    """
    if isinstance(padding, str) and padding.lower() in POOL_PADDINGS:
        return padding.lower()
    raise invalid_argument("padding", padding, "'valid' or 'same'")


def pool_output_shape(spatial_shape, pool_size, strides, padding):
    """Output spatial shape of a pooling (`padding` one name for every axis); `None` sizes stay `None`.

    A `"valid"` window larger than its axis leaves no output, which is an error, as in Keras.

    >>> pool_output_shape((7, 8), (2, 3), (2, 3), "valid")
    (3, 2)
    >>> pool_output_shape((7, 8), (2, 3), (2, 3), "same")
    (4, 3)
    """
    shape = tuple(conv_output_size(n, k, s, padding) for n, k, s in zip(spatial_shape, pool_size, strides))
    if any(size == 0 for size in shape):
        raise invalid_argument(
            "pool_size", tuple(pool_size), f"windows no larger than the input's spatial shape {spatial_shape}"
        )
    return shape


def same_pool_window_counts(size, pool_size, stride):
    """How many real (unpadded) inputs each `"same"` pooling window of one axis holds.

    >>> same_pool_window_counts(5, 3, 2)
    (2, 3, 2)
    """
    before, _ = resolve_axis_padding("same", size, pool_size, stride)
    starts = (j * stride - before for j in range(-(-size // stride)))
    return tuple(min(start + pool_size, size) - max(start, 0) for start in starts)


def normalize_pad_widths(value, rank, name):
    """`(before, after)` pairs of non-negative ints per spatial axis, from Keras's forms of `padding` (for
    `ZeroPadding*`) and `cropping` (for `Cropping*`): an int for every side, one int per axis (both sides),
    or one pair per axis. For `rank=1` a bare pair means `(before, after)`, as `ZeroPadding1D` reads it.

    >>> normalize_pad_widths(1, 2, "padding")
    ((1, 1), (1, 1))
    >>> normalize_pad_widths((1, 2), 2, "padding")
    ((1, 1), (2, 2))
    >>> normalize_pad_widths((1, 2), 1, "cropping")
    ((1, 2),)
    """
    allowed = (
        f"an int >= 0, a tuple of {rank} such ints (one per spatial axis), or a tuple of {rank} "
        "(before, after) pairs"
    )

    def pair(entry):
        if _is_int(entry) and entry >= 0:
            return (int(entry), int(entry))
        if isinstance(entry, (tuple, list)) and len(entry) == 2 and all(_is_int(v) and v >= 0 for v in entry):
            return (int(entry[0]), int(entry[1]))
        raise invalid_argument(name, value, allowed)

    if _is_int(value):
        return (pair(value),) * rank
    if not isinstance(value, (tuple, list)):
        raise invalid_argument(name, value, allowed)
    if rank == 1 and len(value) == 2 and all(_is_int(v) for v in value):
        return (pair(tuple(value)),)
    if len(value) != rank:
        raise invalid_argument(name, value, allowed, detail=f"It has {len(value)} entries for {rank} axes.")
    return tuple(pair(entry) for entry in value)


def decomposition_rank(rank, decompose_to):
    """The rank a decomposition of a rank-`rank` convolution runs on: the backend's `DECOMPOSE_TO_RANK`
    (`decompose_to`), or one below `rank` where that is not below it (rank 3 decomposed onto 2-D where the
    backend's own 3-D convolution is only a candidate, its `native_only_max_rank`).

    >>> decomposition_rank(5, 3), decomposition_rank(3, 3), decomposition_rank(3, 2)
    (3, 2, 2)
    """
    return min(decompose_to, rank - 1)


def halves_of_axis(output_size, stride, extent):
    """How a convolution's `output_size` outputs along one axis split into two halves that read input
    windows of one length (so that they stack along the batch): `(first, window, offset)`, the outputs of
    the first half (the second has `output_size - first`), the input samples each half reads, and where
    the second half's window starts (it may run past the padded input by up to `stride` samples, which
    the caller pads with zeros: they only feed an output that is dropped).

    >>> halves_of_axis(48, 1, 3), halves_of_axis(7, 2, 5)
    ((24, 26, 24), (4, 11, 8))
    """
    first = (output_size + 1) // 2
    return first, (first - 1) * stride + extent, first * stride


def tap_window(tap, output_size, stride=1, dilation=1):
    """The input samples kernel tap `tap` meets along one axis, one per output, as a slice of the padded
    input: `x[tap_window(t, o, s, d)][j] == x[j * s + t * d]` for the `o` outputs `j`.

    >>> tap_window(2, 4, 3, 2), list(range(10))[tap_window(1, 3, 2)]
    (slice(4, 14, 3), [1, 3, 5])
    """
    start = tap * dilation
    return slice(start, start + (output_size - 1) * stride + 1, stride)


def one_window_form(spatial, kernel_size, strides, padding, dilation):
    """The same convolution with stride 1 on each strided axis that has one output position: `(strides,
    lengths, padding)`, where such an axis reads only the first `lengths[i]` input samples (its one window
    reads them and what its padding adds) and its after-padding is what that window reads past them;
    `lengths[i]` is None, and the axis as given, elsewhere, on axes of unknown size (a None, or symbolic
    one) or padding (None), and where the window reads no input sample. The result and its gradients are
    the same (the stride of one window is never taken); oneDNN's float32 2-D and 3-D convolutions of one
    input channel computed such a last axis wrong (`_backend.in_one_window_form`).

    >>> one_window_form((5, 4), (2, 3), (1, 2), ((0, 0), (0, 0)), (1, 1))
    ((1, 1), (None, 3), ((0, 0), (0, 0)))
    """
    strides, lengths, padding = list(strides), [None] * len(strides), list(padding)
    for axis, (n, k, s, pair, d) in enumerate(zip(spatial, kernel_size, strides, padding, dilation)):
        if s == 1 or pair is None or type(n) is not int:
            continue
        before, after = pair
        extent = (k - 1) * d + 1
        if not 0 <= n + before + after - extent < s or extent <= before:
            continue
        lengths[axis] = min(n, extent - before)
        strides[axis], padding[axis] = 1, (before, extent - before - lengths[axis])
    return tuple(strides), tuple(lengths), tuple(padding)


def one_input_strides(spatial, strides):
    """The strides of a full transposed convolution with stride 1 on axes of one input sample, whose full
    output, `(1 - 1) * stride + extent` samples, is the same whatever the stride (see `one_window_form`).

    >>> one_input_strides((1, 4, None), (2, 2, 2))
    (1, 2, 2)
    """
    return tuple(1 if type(n) is int and n == 1 else s for n, s in zip(spatial, strides))


__all__ = [
    "PADDING_MODES",
    "PADDING_NAMES",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose_crop",
    "conv_transpose_output_size",
    "decomposition_rank",
    "effective_kernel_size",
    "halves_of_axis",
    "normalize_data_format",
    "normalize_padding",
    "normalize_pad_widths",
    "normalize_padding_mode",
    "normalize_pool_padding",
    "one_input_strides",
    "one_window_form",
    "pool_output_shape",
    "same_pool_window_counts",
    "normalize_tuple",
    "resolve_axis_padding",
    "tap_window",
    "validate_output_padding",
]
