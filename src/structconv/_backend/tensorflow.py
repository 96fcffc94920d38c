"""TensorFlow implementation of the backend tier (see README.md).

Two TensorFlow limits are handled here and nowhere else: `tf.nn.convolution` rejects `strides > 1` together
with `dilation_rate > 1`, and the CPU kernel of `tf.nn.conv_transpose` rejects dilation in float64. Both are
met the same way: the dilation is written into the kernel (zeros between taps), which is exact and costs
`(extent / kernel_size) ** rank` more multiply-adds, on the kernel side only.
"""

import functools
import os

import tensorflow as tf

try:  # whether oneDNN's kernels are on in this process (private; see `kernel_library`)
    from tensorflow.python.util._pywrap_util_port import IsMklEnabled as _onednn_enabled
except ImportError:
    _onednn_enabled = None

try:  # TensorFlow's own tape bookkeeping (private; see `is_differentiating`)
    from tensorflow.python.eager.record import should_record_backprop as _should_record_backprop
except ImportError:
    _should_record_backprop = None

try:  # whether a graph is traced for XLA (private; see `traced_for_xla`)
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext as _in_xla_context
except ImportError:
    _in_xla_context = None

try:  # the libraries AutoGraph leaves to Python (private; see `_leave_to_python`)
    from tensorflow.python.autograph.core import config as _autograph_config
except ImportError:
    _autograph_config = None

from structconv._backend import grouped_axis_order, keras_pool, summed_channel_products, trailing_axis_groups
from structconv.shapes.arithmetic import resolve_axis_padding


def _leave_to_python():
    """Adds structconv to the libraries AutoGraph does not convert (as it lists Keras, NumPy and TensorFlow
    itself): structconv's Python branches and loops run on static values. Converted, a user's
    `tf.function` (AutoGraph's default) around `structconv.ops.conv` first traced in 8.7 s instead of 0.05
    (2-vCPU AMD EPYC; Keras's `fit` never converts a layer's `call`)."""
    if _autograph_config is None:
        return
    rule = _autograph_config.DoNotConvert("structconv")
    if not any(getattr(r, "_prefix", None) == "structconv" for r in _autograph_config.CONVERSION_RULES):
        _autograph_config.CONVERSION_RULES = (rule, *_autograph_config.CONVERSION_RULES)


_leave_to_python()

PREFERRED_DATA_FORMAT = "channels_last"
# Named explicitly: without it, eager gradients of a rank-3 convolution fail in TensorFlow 2.21
# (`_Conv3DGrad` reads a data_format of None).
_DATA_FORMAT = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
# Above the highest rank of TensorFlow's own convolution (`native_max_rank`) structconv.ops.decomposition
# peels axes onto Conv3D, oneDNN's fastest native convolution, which gains from many input channels
# (measured by benchmarks/calibrate_decomposition.py, docs/benchmarks.md).
DECOMPOSE_TO_RANK = 3
# A `tf.function` may be traced with unknown spatial sizes (Keras's `predict` on a new image size):
# `conv` then takes `None` for a "same" padding pair and computes it at run time.
DYNAMIC_SAME_PADDING = True
# Whether a channels_first input pools its leading spatial axes first (see the PyTorch module).
POOL_MAX_OVER_LEADING_AXES = False
# The highest rank an exported graph may hold as one convolution (None: no limit; see the JAX module).
EXPORT_NATIVE_MAX_RANK = None
# Ranks at which a channels-first copy of the input is a candidate (see the PyTorch module): none, without
# oneDNN TensorFlow's CPU convolutions run channels_last only.
CHANNELS_FIRST_COPY_RANKS = ()


def is_differentiating(*tensors):
    """Whether a `tf.GradientTape` records an op on `tensors` (eagerly or while a `tf.function` traces).

    Best effort, for the cost model only (`ops.make_problem.expects_gradient`): TensorFlow has no public
    API for this, so its tape bookkeeping is asked (`should_record_backprop`), and where that is missing
    (a future TensorFlow) the answer is False, which costs the forward pass only. A Keras layer passes its
    `training` flag instead.
    """
    if _should_record_backprop is None:
        return False
    try:
        return bool(_should_record_backprop([t for t in tensors if tf.is_tensor(t)]))
    except Exception:  # noqa: BLE001 (a changed private function must not break a convolution)
        return False


def device_of(*tensors):
    """"gpu" when TensorFlow sees a GPU (ops are placed there by default), else "cpu"."""
    return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"


def thread_count():
    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1


def accelerator_name(device):
    if device != "gpu":
        return ""
    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else ""


def framework_version():
    return tf.__version__


def kernel_library(device):
    """Which kernels run the CPU convolutions, for the machine's fingerprint: "oneDNN" or "Eigen".
    TensorFlow turns oneDNN on by default only on some CPUs (with AVX-512 VNNI, BF16 or AMX) and
    `TF_ENABLE_ONEDNN_OPTS` overrides it; its kernels time differently (a 4-D training step's decomposition
    7x slower without it, on a 2-vCPU AMD EPYC). TensorFlow has no public query: its own is asked, and where
    that is missing, the environment variable (else "default")."""
    if device != "cpu":
        return ""
    if _onednn_enabled is not None:
        try:
            return "oneDNN" if _onednn_enabled() else "Eigen"
        except Exception:  # noqa: BLE001 (a changed private function must not break planning)
            pass
    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    return "oneDNN" if flag in ("1", "true") else "Eigen" if flag in ("0", "false") else "default"


def timing_needs_own_thread():
    """Whether measured planning must time candidates in a worker thread: always (a `tf.function` trace in
    progress is per thread; the worker runs eagerly)."""
    return True


def first_call_is_a_run(device):
    """Whether the first call of `compile_for_timing`'s callable takes as long as the calls after it: no
    (it traces the `tf.function` and optimises its graph: first calls of 0.25-25 s at a 4-D shape whose
    plans then ran in 0.07-1.5 s, 1.2-20x each plan's later calls)."""
    return False


def native_max_rank(device):
    """The highest rank `conv` runs as one convolution (Conv3D), on any device."""
    return 3


def native_only_max_rank(device):
    """The highest rank at which `conv` is the one direct way; above it up to `native_max_rank` the
    decomposition onto a lower rank is a candidate beside it. 2 on the CPU without oneDNN: Eigen's 3-D
    convolution took 14-53x the time of the decomposition onto its 2-D one at strided training steps and
    strided transposed convolutions, 1.0-2.3x at most others, 0.15-0.52x at three (17 shapes,
    `benchmarks/direct_rank3.py`, AMD EPYC, 2 threads); with oneDNN it is the faster at 16 of 17."""
    return 2 if kernel_library(device) == "Eigen" else 3


def staged(function, static, *tensors):
    """`function(*static, *tensors)`; called eagerly, as one `tf.function` per hashable `static` and input
    signature, traced once, as a model's step runs it and as measured planning times it
    (`compile_for_timing`). Op by op an eager FFT convolution ran 5-20x slower than in a `tf.function`
    (1-D 2000 samples, k=31: 11.9 ms against 0.56; 3-D 24^3, k=9, 4 -> 4: 12.1 against 3.8), so measured
    planning's pick was not what an eager caller got (`benchmarks/eager.py`). Inside a trace, a plain call."""
    if not tf.executing_eagerly():
        return function(*static, *tensors)
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    signature = tuple((tuple(t.shape), t.dtype.name) for t in tensors)
    return _staged_program(function, static, signature)(*tensors)


@functools.lru_cache(maxsize=512)
def _staged_program(function, static, signature):
    del signature  # a key only: one program per input signature, each traced once
    return tf.function(functools.partial(function, *static), autograph=False)


def traced_for_xla():
    """Whether the call is being traced into a function XLA compiles (`tf.function(jit_compile=True)`, which
    Keras's `fit` uses by default where TensorFlow sees a GPU): measured planning then times its candidates
    so too (`compile_for_timing(..., xla=True)`). On a 2-vCPU AMD EPYC, under XLA the rank-4 decomposition
    ran 2.3-3.7x slower than in a plain `tf.function` and FFT plans 0.3-1.5x as long, and picks flipped
    (4-D 8^4, k=2, 4 x 2 -> 2: direct 2.54 ms against FFT 4.02 plainly, 5.81 against 1.16 under XLA;
    docs/benchmarks.md). Best effort: TensorFlow has no public API for it (False where the private
    function is missing)."""
    if _in_xla_context is None or tf.executing_eagerly():
        return False
    try:
        return bool(_in_xla_context(tf.compat.v1.get_default_graph()))
    except Exception:  # noqa: BLE001 (a changed private function must not break a convolution)
        return False


def compile_for_timing(function, arrays, gradient, device, xla=False):
    """A callable that runs `function` on tensors made from the NumPy `arrays` once, as a model runs it
    (in a `tf.function`, compiled by XLA when `xla`; with the gradient of `sum(function(...))` w.r.t. every
    tensor when `gradient`), and waits for the result. Called outside any trace (a worker thread runs
    eagerly)."""
    tensors = [tf.constant(a) for a in arrays]

    @tf.function(jit_compile=bool(xla))
    def compiled(*values):
        if not gradient:
            return tf.reduce_sum(function(*values))
        with tf.GradientTape() as tape:
            tape.watch(values)
            total = tf.reduce_sum(function(*values))
        return [tf.reduce_sum(g) for g in tape.gradient(total, values)]

    concrete = []

    def run():
        if not concrete:
            # Each candidate is a new tf.function traced once: TensorFlow counts these traces together and
            # warns of "excessive retracing" after a few, inside a user's `fit` too. Trace it silently.
            logger = tf.get_logger()
            level = logger.level
            logger.setLevel("ERROR")
            try:
                concrete.append(compiled.get_concrete_function(*tensors))
            finally:
                logger.setLevel(level)
        tf.nest.map_structure(lambda t: t.numpy(), concrete[0](*tensors))

    return run


def _to_channels_last(x, rank):
    return tf.transpose(x, [0, *range(2, rank + 2), 1])


def _to_channels_first(x, rank):
    return tf.transpose(x, [0, rank + 1, *range(1, rank + 1)])


def _dilate_kernel(kernel, dilation_rate):
    """Inserts `d - 1` zeros between the taps of each spatial axis of `kernel`."""
    for axis, dilation in enumerate(dilation_rate):
        if dilation == 1:
            continue
        size = kernel.shape[axis]
        spread = tf.stack([kernel] + [tf.zeros_like(kernel)] * (dilation - 1), axis=axis + 1)
        new_shape = list(kernel.shape)
        new_shape[axis] = size * dilation
        kernel = tf.reshape(spread, new_shape)
        kernel = tf.gather(kernel, tf.range((size - 1) * dilation + 1), axis=axis)
    return kernel


def _same_pair_at_run_time(size, kernel_size, stride, dilation):
    """The "same" `(before, after)` pair for an axis whose size is only known at run time."""
    extent = (kernel_size - 1) * dilation + 1
    outputs = (size + stride - 1) // stride
    total = tf.maximum((outputs - 1) * stride + extent - size, 0)
    return tf.stack([total // 2, total - total // 2])


def _padding_argument(x, kernel_size, strides, padding, dilation_rate):
    """Chooses TensorFlow's padding string, padding `x` explicitly where neither string fits.

    A `None` pair is "same" padding on an axis of unknown size, computed at run time.
    """
    if any(pair is None for pair in padding):
        pairs = [
            _same_pair_at_run_time(tf.shape(x)[axis + 1], k, s, d) if pair is None else tf.constant(pair)
            for axis, (pair, k, s, d) in enumerate(zip(padding, kernel_size, strides, dilation_rate))
        ]
        zero = tf.zeros((2,), tf.int32)
        return tf.pad(x, tf.stack([zero, *[tf.cast(p, tf.int32) for p in pairs], zero])), "VALID"
    if all(pair == (0, 0) for pair in padding):
        return x, "VALID"
    sizes = x.shape[1:-1]
    # TensorFlow's CPU convolution without oneDNN (always in float64) computes wrong values with "SAME" where
    # a stride overshoots the input, so that the axis's "same" padding would be negative (seen: Conv3D,
    # input 10x18x15, kernel 5x1x1, strides 2x3x3); explicit padding then "VALID" is exact.
    if x.dtype != tf.float64 and all(
        n is not None
        and tuple(pair) == resolve_axis_padding("same", n, k, s, d)
        and (-(-n // s) - 1) * s + (k - 1) * d + 1 >= n
        for n, k, s, d, pair in zip(sizes, kernel_size, strides, dilation_rate, padding)
    ):
        return x, "SAME"
    return tf.pad(x, [[0, 0], *[list(pair) for pair in padding], [0, 0]]), "VALID"


# Above this many input channels per group, one convolution per group is faster than one convolution with a
# block-diagonal kernel, which multiplies `groups` times more terms (benchmarks/grouped_conv_tf.py, AMD EPYC,
# TensorFlow 2.21 without oneDNN: 4 channels per group 1.6-3x faster block-diagonal, 16 channels per group
# 1.6x faster split; docs/benchmarks.md).
_BLOCK_DIAGONAL_MAX_GROUP_CHANNELS = 8


@functools.cache
def _native_grouped_conv(rank, dtype):
    """Whether TensorFlow runs and differentiates a grouped convolution of this rank and dtype here.

    Its CPU kernels differentiate one only with oneDNN (on by default on some CPUs only, and off with
    `TF_ENABLE_ONEDNN_OPTS=0`) and only in float32 and bfloat16; Conv3D has no grouped kernel at all. Which
    holds is asked of TensorFlow once, on a tiny convolution, rather than guessed from the CPU.
    """
    # Convolution and its two gradient kernels, called directly: `tf.init_scope` (eager even while a
    # `tf.function` is traced) pauses gradient tapes. TensorFlow's 1-D convolution is its 2-D one.
    probe_rank = max(rank, 2)
    names = {2: ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"),
             3: ("Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2")}[probe_rank]
    # Not a 1x1 kernel: TensorFlow runs those as a matrix product.
    x_shape, kernel_shape = (1,) + (3,) * probe_rank + (2,), (2,) * probe_rank + (1, 2)
    strides = [1] * (probe_rank + 2)
    with tf.init_scope():
        x, kernel = tf.ones(x_shape, dtype), tf.ones(kernel_shape, dtype)
        try:
            y = getattr(tf.raw_ops, names[0])(input=x, filter=kernel, strides=strides, padding="VALID")
            getattr(tf.raw_ops, names[1])(
                input_sizes=x_shape, filter=kernel, out_backprop=y, strides=strides, padding="VALID"
            )
            getattr(tf.raw_ops, names[2])(
                input=x, filter_sizes=kernel_shape, out_backprop=y, strides=strides, padding="VALID"
            )
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
            return False
    return True


def _grouped_conv(x, kernel, strides, padding_name, dilation_rate, groups):
    """A grouped convolution from ungrouped ones, where TensorFlow's own grouped kernel is missing."""
    rank = len(x.shape) - 2

    def convolution(inputs, filters):
        return tf.nn.convolution(
            inputs, filters, strides, padding_name, data_format=_DATA_FORMAT[rank], dilations=dilation_rate
        )

    group_channels, filters = kernel.shape[-2], kernel.shape[-1]
    if group_channels > _BLOCK_DIAGONAL_MAX_GROUP_CHANNELS:
        pairs = zip(tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1))
        return tf.concat([convolution(a, b) for a, b in pairs], axis=-1)
    # One convolution whose kernel connects input group g to output group g only.
    blocks = tf.reshape(kernel, (*kernel.shape[:rank], 1, group_channels, groups, filters // groups))
    diagonal = tf.reshape(tf.eye(groups, dtype=kernel.dtype), (groups, 1, groups, 1))
    full_shape = (*kernel.shape[:rank], groups * group_channels, filters)
    return convolution(x, tf.reshape(blocks * diagonal, full_shape))


def conv(x, kernel, strides, padding, dilation_rate, groups, data_format):
    rank = len(x.shape) - 2
    if data_format == "channels_first":
        # TensorFlow's CPU kernels only run channels_last.
        x = _to_channels_last(x, rank)
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation_rate):
        kernel = _dilate_kernel(kernel, dilation_rate)
        dilation_rate = (1,) * rank
    kernel_size = kernel.shape[:rank]
    x, padding_name = _padding_argument(x, kernel_size, strides, padding, dilation_rate)
    if groups > 1 and not _native_grouped_conv(rank, x.dtype):
        y = _grouped_conv(x, kernel, list(strides), padding_name, list(dilation_rate), groups)
    else:
        y = tf.nn.convolution(
            x, kernel, list(strides), padding_name,
            data_format=_DATA_FORMAT[rank], dilations=list(dilation_rate),
        )
    if data_format == "channels_first":
        y = _to_channels_first(y, rank)
    return y


def slow_single_item(rank, channels, spatial, kernel_size, groups, dtype, device):
    """Whether the convolution of a batch of one takes a slower path than that of two (see the PyTorch
    module): no."""
    return False


def channels_first_copy(x):
    """`(N, *spatial, C)` as `(N, C, *spatial)` (see the PyTorch module)."""
    return _to_channels_first(x, len(x.shape) - 2)


def conv_transpose(x, kernel, strides, dilation_rate, data_format):
    rank = len(x.shape) - 2
    if data_format == "channels_first":
        x = _to_channels_last(x, rank)
    if any(d > 1 for d in dilation_rate):
        kernel = _dilate_kernel(kernel, dilation_rate)
    extents = kernel.shape[:rank]
    # The full output's sizes, taken at run time on axes whose size is unknown when traced.
    input_sizes = [n if n is not None else tf.shape(x)[axis + 1] for axis, n in enumerate(x.shape[1:-1])]
    sizes = [(n - 1) * s + e for n, s, e in zip(input_sizes, strides, extents)]
    output_shape = tf.stack([tf.shape(x)[0], *sizes, kernel.shape[-2]])
    y = tf.nn.conv_transpose(x, kernel, output_shape, list(strides), "VALID")
    if data_format == "channels_first":
        y = _to_channels_first(y, rank)
    return y


# TensorFlow's FFTs transform at most the 3 innermost axes; further (leading) FFT axes are transformed one
# at a time by complex FFTs on the innermost axis, the axis moved there and back.
_RFFT = {1: tf.signal.rfft, 2: tf.signal.rfft2d, 3: tf.signal.rfft3d}
_IRFFT = {1: tf.signal.irfft, 2: tf.signal.irfft2d, 3: tf.signal.irfft3d}


def _along_axis(x, axis, transform):
    last = len(x.shape) - 1
    if axis == last:
        return transform(x)
    order = list(range(len(x.shape)))
    order[axis], order[last] = last, axis
    return tf.transpose(transform(tf.transpose(x, order)), order)


def _pad_to(x, axis, length):
    extra = length - x.shape[axis]
    if extra <= 0:
        return x
    shape = tf.concat([tf.shape(x)[:axis], [extra], tf.shape(x)[axis + 1 :]], axis=0)
    return tf.concat([x, tf.zeros(shape, x.dtype)], axis=axis)


def rfftn(x, axes, lengths):
    """Real N-D FFT over `axes` (the trailing axes), zero-padding each to its length in `lengths`."""
    # At most 2 axes by TensorFlow's real FFTs: RFFT3D and IRFFT3D have no registered gradient.
    inner = min(len(axes), 2)
    spectrum = _RFFT[inner](x, fft_length=list(lengths[-inner:]))
    for axis, length in zip(axes[:-inner], lengths[:-inner]):
        spectrum = _pad_to(spectrum, axis, length)
        spectrum = _along_axis(spectrum, axis, tf.signal.fft)
    return spectrum


def irfftn(x, axes, lengths):
    """Inverse of `rfftn`: a real tensor with `lengths` along `axes`."""
    inner = min(len(axes), 2)
    for axis in axes[:-inner]:
        x = _along_axis(x, axis, tf.signal.ifft)
    return _IRFFT[inner](x, fft_length=list(lengths[-inner:]))


_FFT = {1: tf.signal.fft, 2: tf.signal.fft2d, 3: tf.signal.fft3d}
_IFFT = {1: tf.signal.ifft, 2: tf.signal.ifft2d, 3: tf.signal.ifft3d}


def _move_axes(x, sources, destinations):
    """`moveaxis` for several axes (TensorFlow has none)."""
    rest = [axis for axis in range(len(x.shape)) if axis not in sources]
    order = [None] * len(x.shape)
    for source, destination in zip(sources, destinations):
        order[destination] = source
    remaining = iter(rest)
    order = [next(remaining) if axis is None else axis for axis in order]
    return tf.transpose(x, order)


def fft_axis_order(rank):
    """The order of the spatial axes in the spectrum of `fftn`: TensorFlow's FFTs transform the 3 innermost
    axes, so the others are moved behind them, 3 at a time, and left there."""
    return grouped_axis_order(rank)


def fftn(x, lengths):
    """Complex FFT of `(B, C, *spatial)` over every spatial axis, zero-padded to `lengths`; the spectrum's
    frequency axes come in `fft_axis_order(rank)`."""
    rank = len(x.shape) - 2
    for axis, length in enumerate(lengths):
        x = _pad_to(x, 2 + axis, length)
    for i, group in enumerate(trailing_axis_groups(rank)):
        ndim = len(x.shape)
        if i:
            x = _move_axes(x, [2 + a for a in group], list(range(ndim - len(group), ndim)))
        x = _FFT[len(group)](x)
    return x


def ifftn(x):
    """Inverse of `fftn`: the complex signal with its spatial axes back in their natural order."""
    ndim = len(x.shape)
    groups = trailing_axis_groups(ndim - 2)
    for i, group in reversed(list(enumerate(groups))):
        x = _IFFT[len(group)](x)
        if i:
            x = _move_axes(x, list(range(ndim - len(group), ndim)), [2 + a for a in group])
    return x


def einsum(subscripts, *operands):
    """`einsum` that keeps complex128 (Keras's promotion rules turn it into complex64 on some backends)."""
    return tf.einsum(subscripts, *operands)


def matmul(a, b):
    """`a @ b` with the batch axes broadcast, keeping complex128 (as `einsum`)."""
    return tf.linalg.matmul(a, b)


def channel_products(x, k):
    """`sum over c of x[:, :, c : c + 1] * k[c][None]`: `x` `(B, g, C / g, S)` and `k` `(C / g, g, F / g, S)`
    to `(B, g, F / g, S)`, the channel-major spectral product (`ops.fft_conv._spectra_product`): a plain
    sum, which XLA fuses into one pass (the PyTorch module accumulates in place)."""
    return summed_channel_products(x, k)


def complex(real, imag):  # noqa: A001  (the backend tier mirrors the frameworks' names)
    """The complex tensor `real + i imag` (`keras.ops` has no constructor for one)."""
    return tf.complex(real, imag)


def fft2(x, axes):
    """Complex 2-D FFT of `x` over its two `axes` (free-space propagation: channels_last transforms axes 1
    and 2). TensorFlow's FFTs transform the innermost axes only, so other axes cost a transpose each way."""
    return _along_two_axes(tf.signal.fft2d, x, axes)


def ifft2(x, axes):
    """Inverse of `fft2`."""
    return _along_two_axes(tf.signal.ifft2d, x, axes)


def _along_two_axes(transform, x, axes):
    ndim = len(x.shape)
    axes = [axis % ndim for axis in axes]
    if axes == [ndim - 2, ndim - 1]:
        return transform(x)
    order = [axis for axis in range(ndim) if axis not in axes] + axes
    back = [order.index(axis) for axis in range(ndim)]
    return tf.transpose(transform(tf.transpose(x, order)), back)


def constant_like(array, like):
    """A NumPy array as a tensor on the device of `like` (TensorFlow places constants itself; under
    `tf.function` it becomes a graph constant)."""
    return tf.constant(array)


def gather(x, indices, axis):
    """`x` indexed by the constant 1-D integer NumPy array `indices` along `axis` (the backend tier's
    export-safe gather; see the PyTorch module)."""
    return tf.gather(x, indices, axis=axis)


def pool(x, window, strides, padding, mode):
    """Keras's pooling, channels_last (`structconv._backend.keras_pool`): the fastest form measured here
    (benchmarks/pooling.py, TensorFlow 0.18-0.65x a reshape onto `tf.nn.max_pool3d` / `avg_pool3d`)."""
    return keras_pool(x, window, strides, padding, mode)
