"""TensorFlow implementation of the backend tier (see README.md): the runtime (devices, threads, staging and
timing of programs) and the small ops here; its convolutions are `tensorflow_conv`'s and its FFTs
`tensorflow_fft`'s, exported from here under the backend tier's names.
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

from structconv._backend import keras_pool, summed_channel_products
from structconv._backend.tensorflow_conv import (  # noqa: F401
    channels_first_copy,
    conv,
    conv_im2col,
    conv_transpose,
    im2col_helps,
)
from structconv._backend.tensorflow_fft import fft2, fft_axis_order, fftn, ifft2, ifftn, irfftn, rfftn  # noqa: F401


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
    # The concrete function, called directly: calling the `tf.function` matched its arguments to its
    # traces on every call, 100-125 us of a small call (a 1-D 64-sample k=3 4 -> 4 direct plan: 364-371 us
    # a call, its concrete function 253-271 us; FFT plans alike; 2-vCPU Intel Xeon, session 43).
    specs = [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
    return tf.function(functools.partial(function, *static), autograph=False).get_concrete_function(*specs)


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


def compile_for_timing(function, arrays, gradient, device, xla=False, dtype=None):
    """A callable that runs `function` on tensors made from the NumPy `arrays` (as `dtype` where given:
    NumPy has no bfloat16) once, as a model runs it (in a `tf.function`, compiled by XLA when `xla`; with
    the gradient of `sum(function(...))` w.r.t. every tensor when `gradient`), and waits for the result.
    Traces the function before it returns. Called outside any trace (a worker thread runs eagerly)."""
    tensors = [tf.constant(a) if dtype is None else tf.cast(tf.constant(a), dtype) for a in arrays]

    @tf.function(jit_compile=bool(xla))
    def compiled(*values):
        if not gradient:
            return tf.reduce_sum(function(*values))
        with tf.GradientTape() as tape:
            tape.watch(values)
            total = tf.reduce_sum(function(*values))
        return [tf.reduce_sum(g) for g in tape.gradient(total, values)]

    # Traced here, not on the first call: the trace (40-600 ms for an FFT plan's training step) says
    # nothing of the call's time, and measured planning reads the first call as a hint of it
    # (`tuning.autotune.FIRST_CALL_FACTOR`). Each candidate is a new tf.function traced once: TensorFlow
    # counts these traces together and warns of "excessive retracing" after a few, inside a user's `fit`
    # too. Trace it silently.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        concrete = compiled.get_concrete_function(*tensors)
    finally:
        logger.setLevel(level)

    def run():
        tf.nest.map_structure(lambda t: t.numpy(), concrete(*tensors))

    return run


def unpadded_slow(rank, channels, groups, dtype, device):
    """Whether a convolution without padding may run far slower than with one output row more on zero
    padding (see the JAX module): not measured so."""
    return False


def odd_channels_slow(rank, channels, groups, dtype, device):
    """Whether a convolution of an odd number of input channels may run far slower than on one channel
    more (see the JAX module): not measured so."""
    return False


def slow_single_item(rank, channels, spatial, kernel_size, groups, dtype, device):
    """Whether the convolution of a batch of one takes a slower path than that of two (see the PyTorch
    module): no."""
    return False


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


def constant_like(array, like):
    """A NumPy array as a tensor on the device of `like` (TensorFlow places constants itself; under
    `tf.function` it becomes a graph constant)."""
    return tf.constant(array)


def gather(x, indices, axis):
    """`x` indexed by the constant 1-D integer NumPy array `indices` along `axis` (the backend tier's
    export-safe gather; see the PyTorch module)."""
    return tf.gather(x, indices, axis=axis)


def slice_window(x, index):
    """`x[index]` for a tuple `index` of Python slices of its leading axes. Where each slice's ends are
    known and in range, by `tf.slice`, whose gradient is a pad, and a slice with a step as a contiguous
    one regrouped into `(count, step)` of which the first of each group is kept: a strided slice
    (`x[index]`) and its gradient, StridedSliceGrad, made steps slow. With them a 4-D training step
    decomposed onto 3-D ran 1.8-4.2x as long stacked along the inputs (15^4, k=3, 8 -> 8: 34 of its 61 ms
    of compute in StridedSliceGrad), and stacked along the filters 1.0-1.2x up to about 9 MiB of stacked
    output, 5-10x from there; FFT steps in overlap-save blocks 1.6-2.2x; with stride 2, 4-D 24^4 k=3
    8 -> 8 forward 3.7-4.3x and its training step stacked along the inputs 3.4x (19, 11 and 9 shapes,
    oneDNN, Intel Xeon, 2 threads, 2026-12-06)."""
    parts = []
    for axis, part in enumerate(index):
        extent, step, start = x.shape[axis], part.step or 1, part.start or 0
        stop = extent if part.stop is None else part.stop
        if step == 1 and start == 0 and part.stop is None:
            parts.append((0, None, 1))  # the whole axis, of any size
        elif step >= 1 and extent is not None and 0 <= start <= stop <= extent:
            parts.append((start, stop, step))
        else:
            return x[index]
    counts = [None if stop is None else len(range(start, stop, step)) for start, stop, step in parts]
    # Each strided axis covered up to `count * step` entries where the axis holds them (fewer are padded).
    sizes = [-1 if stop is None else min(count * step, x.shape[axis] - start)
             for axis, ((start, stop, step), count) in enumerate(zip(parts, counts))]
    rest = len(x.shape) - len(index)
    y = tf.slice(x, [start for start, _, _ in parts] + [0] * rest, sizes + [-1] * rest)
    for axis, ((_, _, step), count) in enumerate(zip(parts, counts)):
        if step > 1:
            y = _every_step(y, axis, count, step)
    return y


def slice_windows(x, indices):
    """`[slice_window(x, index) for index in indices]` (see the PyTorch module)."""
    return [slice_window(x, index) for index in indices]


def _every_step(y, axis, count, step):
    """The entries `0, step, 2 * step, ...` (`count` of them) of `y`'s `axis`, which holds from
    `(count - 1) * step + 1` to `count * step` of them: zeros appended to `count * step`, the axis
    regrouped into `(count, step)`, the first of each group kept."""
    shape = [n if n is not None else tf.shape(y)[i] for i, n in enumerate(y.shape)]
    short = count * step - y.shape[axis]
    if short:
        y = tf.concat([y, tf.zeros(shape[:axis] + [short] + shape[axis + 1:], y.dtype)], axis)
    y = tf.reshape(y, shape[:axis] + [count, step] + shape[axis + 1:])
    sizes = [-1] * (len(shape) + 1)
    sizes[axis + 1] = 1
    return tf.reshape(tf.slice(y, [0] * len(sizes), sizes), shape[:axis] + [count] + shape[axis + 1:])


def pool(x, window, strides, padding, mode):
    """Keras's pooling, channels_last (`structconv._backend.keras_pool`): the fastest form measured here
    (benchmarks/pooling.py, TensorFlow 0.18-0.65x a reshape onto `tf.nn.max_pool3d` / `avg_pool3d`)."""
    return keras_pool(x, window, strides, padding, mode)
