"""JAX implementation of the backend tier (see README.md)."""

import functools
import os

import jax
import jax.numpy as jnp
from jax import lax

from structconv._backend import grouped_axis_order, keras_pool, summed_channel_products, trailing_axis_groups

PREFERRED_DATA_FORMAT = "channels_last"
# The decomposition peels axes onto rank 2, XLA's fastest CPU convolution, which slows down several-fold
# above 16 input channels (benchmarks/calibrate_decomposition.py, docs/benchmarks.md).
DECOMPOSE_TO_RANK = 2
# Only TensorFlow traces graphs with unknown spatial sizes that `conv` must pad at run time.
DYNAMIC_SAME_PADDING = False
# Whether a channels_first input pools its leading spatial axes first (see the PyTorch module).
POOL_MAX_OVER_LEADING_AXES = False
# jax2onnx converts only convolutions of rank <= 2 in JAX's layouts (Keras's own Conv3D fails with
# "Unsupported conv layouts"): an exported graph decomposes rank 3 onto rank 2.
EXPORT_NATIVE_MAX_RANK = 2
# Ranks at which a channels-first copy of the input is a candidate (see the PyTorch module): none, XLA
# chooses its layouts itself.
CHANNELS_FIRST_COPY_RANKS = ()


def is_differentiating(*tensors):
    """Whether JAX is differentiating through an op on `tensors`: one of them is traced by forward-mode
    autodiff or linearization, as under `jax.grad`, `jax.value_and_grad`, `jax.vjp` or `jax.jvp` (Keras's
    JAX trainer differentiates the trainable variables that way).

    Best effort, for the cost model only (`ops.arguments.expects_gradient`): JAX has no public API for
    this, so the tracer's class is recognised by name, and anything else (a plain array, a `jax.jit`
    tracer, a future JAX) counts as not differentiating, which costs the forward pass only.
    """
    names = {"JVPTracer", "LinearizeTracer"}
    return any(type(t).__name__ in names for t in tensors)


def device_of(*tensors):
    """"gpu" when JAX's default backend is a GPU (tracers carry no device), else "cpu"."""
    return "gpu" if jax.default_backend() in ("gpu", "cuda", "rocm") else "cpu"


def thread_count():
    """XLA's CPU threads: every core unless XLA_FLAGS caps its intra-op parallelism."""
    for flag in os.environ.get("XLA_FLAGS", "").split():
        if flag.startswith("intra_op_parallelism_threads="):
            return int(flag.split("=", 1)[1])
    return os.cpu_count() or 1


def accelerator_name(device):
    return jax.devices()[0].device_kind if device == "gpu" else ""


def framework_version():
    return jax.__version__


def kernel_library(device):
    """Which kernels run the CPU convolutions, for the machine's fingerprint: XLA's own."""
    return "XLA" if device == "cpu" else ""


def timing_needs_own_thread():
    """Whether measured planning must time candidates in a worker thread: always (a `jax.jit` trace in
    progress is per thread; the worker's candidates compile and run for real outside it)."""
    return True


def traced_for_xla():
    """False: JAX compiles every program with XLA, so a call has one form (`compile_for_timing` jits)."""
    return False


def compile_for_timing(function, arrays, gradient, device, xla=False, dtype=None):
    """A callable that runs `function` on arrays made from the NumPy `arrays` (as `dtype` where given:
    NumPy has no bfloat16) once, as a model runs it (under `jax.jit`, compiled here, ahead of the first
    call, whatever `xla`: JAX's one form; its gradient w.r.t. every array of `sum(function(...))` when
    `gradient`), and waits for the result. Called outside any trace (a worker thread has its own trace
    state)."""
    values = [jnp.asarray(a, dtype=dtype) for a in arrays]
    if gradient:
        jitted = jax.jit(jax.grad(lambda *t: jnp.sum(function(*t)), argnums=tuple(range(len(values)))))
    else:
        jitted = jax.jit(function)
    compiled = jitted.lower(*values).compile()

    def run():
        jax.block_until_ready(compiled(*values))

    return run


def first_call_is_a_run(device):
    """Whether the first call of `compile_for_timing`'s callable takes as long as the calls after it, so
    that measured planning may count it as a sample: on the CPU (compiled ahead; on a GPU the first run
    still creates its FFT plans)."""
    return device == "cpu"


def native_max_rank(device):
    """The highest rank `conv` may run as one convolution on `device` (None: any). On the CPU,
    lax.conv_general_dilated runs any rank, but above rank 3 XLA's convolution is a slow loop that only
    sometimes beats a decomposition, and its 3-D one runs on one thread (1.7-64x slower than the
    decomposition onto its 2-D one, `benchmarks/direct_rank3.py`): above `native_only_max_rank` both are
    candidates of the planner. On a GPU XLA hands convolutions to
    cuDNN, which takes at most 3 spatial axes: on an H200 (jax 0.11.2) a rank-4 float32 gradient aborted
    the process in compilation ("Check failed: num_dimensions <= 3", `__cudnn$convBackwardFilter`) and a
    grouped, strided rank-4 float64 gradient came out wrong; ranks above 3 are decomposed there."""
    return None if device == "cpu" else 3


def native_only_max_rank(device):
    """The highest rank at which `conv` is the one direct way (see the TensorFlow module): on the CPU the
    rank the decomposition runs on, `DECOMPOSE_TO_RANK`; on a GPU every rank cuDNN has."""
    return DECOMPOSE_TO_RANK if device == "cpu" else 3


def staged(function, static, *tensors):
    """`function(*static, *tensors)` as one compiled program (`jax.jit`, one per `static`, which must be
    hashable): an eager call compiles one program for new shapes instead of one per primitive (an eager
    FFT convolution's first call compiled 28-38 programs: 1.0-2.1 s against 0.13-0.23 s staged on a 2-core
    VM, `benchmarks/eager.py`); inside a trace it is a nested `jit` that XLA inlines."""
    return _staged_program(function, static)(*tensors)


@functools.lru_cache(maxsize=512)
def _staged_program(function, static):
    return jax.jit(functools.partial(function, *static))


def _dimension_numbers(rank, data_format):
    spatial = tuple(range(1, rank + 1))
    if data_format == "channels_last":
        lhs = (0, rank + 1) + spatial
    else:
        lhs = (0, 1) + tuple(range(2, rank + 2))
    # Keras kernels are (*k, in, out). rhs_spec is (out, in, *spatial).
    rhs = (rank + 1, rank) + tuple(range(rank))
    return lax.ConvDimensionNumbers(lhs_spec=lhs, rhs_spec=rhs, out_spec=lhs)


def conv(x, kernel, strides, padding, dilation_rate, groups, data_format):
    rank = x.ndim - 2
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=tuple(strides),
        padding=[tuple(pair) for pair in padding],
        rhs_dilation=tuple(dilation_rate),
        dimension_numbers=_dimension_numbers(rank, data_format),
        feature_group_count=groups,
    )


def slow_single_item(rank, channels, spatial, kernel_size, groups, dtype, device):
    """Whether the convolution of a batch of one takes a slower path than that of two (see the PyTorch
    module): no."""
    return False


def unpadded_slow(rank, channels, groups, dtype, device):
    """Whether the convolution `conv` runs of `rank` with no padding may run far slower than with one
    output row more on zero padding, cropped (`ops.padded_row`): float32 2-D convolutions of more than 16
    input channels on the CPU, which XLA hands to YNNPACK: by 6x5 kernels into 1-16 filters the rate fell
    8-13x from 16 input channels to 17, and padding restored it (2 threads of an Intel Xeon with AVX-512,
    jaxlib 0.10.2; 1-D ones and padded ones did not fall)."""
    return device == "cpu" and rank == 2 and groups == 1 and dtype == "float32" and channels > 16


def odd_channels_slow(rank, channels, groups, dtype, device):
    """Whether the convolution `conv` runs of `rank` with an odd number `channels` of input channels (over
    one, ungrouped) may run far slower than on one channel more, so that the planner offers it on padded
    channels (`ops.even_channels`): float32 2-D convolutions on the CPU, which XLA hands to YNNPACK,
    ran 3-15x slower at 3, 5 and 7 input channels into 17-32 filters than at 4, 6 and 8 (1-D and 3-D ones
    alike at odd and even counts)."""
    return (device == "cpu" and rank == 2 and groups == 1 and dtype == "float32" and channels > 1
            and channels % 2 == 1)


def channels_first_copy(x):
    """`(N, *spatial, C)` as `(N, C, *spatial)` (see the PyTorch module)."""
    return jnp.moveaxis(x, -1, 1)


def im2col_helps(rank, data_format, channels, filters, groups, dtype, device, columns):
    """Whether the framework's convolution bypassing its kernel library is a candidate (see the PyTorch
    module): never."""
    return False


def conv_im2col(x, kernel, strides, padding, dilation_rate, data_format):
    """Never planned here (`im2col_helps`; see the PyTorch module)."""
    raise NotImplementedError("conv_im2col is a PyTorch candidate only")


def conv_transpose(x, kernel, strides, dilation_rate, data_format):
    rank = x.ndim - 2
    kernel_size = kernel.shape[:rank]
    # The full transposed convolution is a convolution of the stride-dilated input with the flipped
    # kernel, padded by the kernel's extent minus one on both sides.
    pads = [((k - 1) * d, (k - 1) * d) for k, d in zip(kernel_size, dilation_rate)]
    return lax.conv_general_dilated(
        x,
        # (*k, out, in) -> (*k, in, out): the layout jax2onnx (ONNX export) converts; XLA folds the swap.
        jnp.swapaxes(jnp.flip(kernel, axis=tuple(range(rank))), -1, -2),
        window_strides=(1,) * rank,
        padding=pads,
        lhs_dilation=tuple(strides),
        rhs_dilation=tuple(dilation_rate),
        dimension_numbers=_dimension_numbers(rank, data_format),
    )


def rfftn(x, axes, lengths):
    """Real N-D FFT over `axes` (trailing axes), zero-padding each to its length in `lengths`."""
    return jnp.fft.rfftn(x, s=tuple(lengths), axes=tuple(axes))


def irfftn(x, axes, lengths):
    """Inverse of `rfftn`: a real tensor with `lengths` along `axes`."""
    return jnp.fft.irfftn(x, s=tuple(lengths), axes=tuple(axes))


def fft_axis_order(rank):
    """The order of the spatial axes in the spectrum of `fftn`: XLA's FFT transforms the 3 innermost axes,
    so the others are moved behind them, 3 at a time, and the spectrum is left in that order (moving them
    back would cost a transpose each way)."""
    return grouped_axis_order(rank)


def fftn(x, lengths):
    """Complex FFT of `(B, C, *spatial)` over every spatial axis, zero-padded to `lengths`; the spectrum's
    frequency axes come in `fft_axis_order(rank)`."""
    rank = x.ndim - 2
    if tuple(x.shape[2:]) != tuple(lengths):
        x = jnp.pad(x, [(0, 0), (0, 0), *[(0, length - n) for n, length in zip(x.shape[2:], lengths)]])
    for i, group in enumerate(trailing_axis_groups(rank)):
        if i:
            x = jnp.moveaxis(x, tuple(2 + a for a in group), tuple(range(x.ndim - len(group), x.ndim)))
        x = lax.fft(x, lax.FftType.FFT, tuple(x.shape[x.ndim - len(group) :]))
    return x


def ifftn(x):
    """Inverse of `fftn`: the complex signal with its spatial axes back in their natural order."""
    groups = trailing_axis_groups(x.ndim - 2)
    for i, group in reversed(list(enumerate(groups))):
        x = lax.fft(x, lax.FftType.IFFT, tuple(x.shape[x.ndim - len(group) :]))
        if i:
            x = jnp.moveaxis(x, tuple(range(x.ndim - len(group), x.ndim)), tuple(2 + a for a in group))
    return x


def einsum(subscripts, *operands):
    """`einsum` that keeps complex128 (Keras's promotion rules turn it into complex64 on some backends)."""
    return jnp.einsum(subscripts, *operands)


def matmul(a, b):
    """`a @ b` with the batch axes broadcast, keeping complex128 (as `einsum`)."""
    return jnp.matmul(a, b)


def channel_products(x, k):
    """`sum over c of x[:, :, c : c + 1] * k[c][None]`: `x` `(B, g, C / g, S)` and `k` `(C / g, g, F / g, S)`
    to `(B, g, F / g, S)`, the channel-major spectral product (`ops.fft_conv._spectra_product`): a plain
    sum, which XLA fuses into one pass (the PyTorch module accumulates in place)."""
    return summed_channel_products(x, k)


def complex(real, imag):  # noqa: A001  (the backend tier mirrors the frameworks' names)
    """The complex tensor `real + i imag` (`keras.ops` has no constructor for one)."""
    return lax.complex(real, imag)


def fft2(x, axes):
    """Complex 2-D FFT of `x` over its two `axes` (free-space propagation: channels_last transforms axes 1
    and 2; XLA moves other axes innermost itself)."""
    return jnp.fft.fft2(x, axes=tuple(axes))


def ifft2(x, axes):
    """Inverse of `fft2`."""
    return jnp.fft.ifft2(x, axes=tuple(axes))


def constant_like(array, like):
    """A NumPy array as a tensor on the device of `like` (JAX: the default device, as Keras places it;
    under `jit` it becomes a constant of the compiled function)."""
    return jnp.asarray(array)


def gather(x, indices, axis):
    """`x` indexed by the constant 1-D integer NumPy array `indices` along `axis` (the backend tier's
    export-safe gather; see the PyTorch module)."""
    return jnp.take(x, indices, axis=axis)


def slice_window(x, index):
    """`x[index]` for a tuple `index` of Python slices of its leading axes (the backend tier's slice, whose
    gradient is a pad; see the TensorFlow module)."""
    return x[index]


def slice_windows(x, indices):
    """`[x[index] for index in indices]` (see the PyTorch module; XLA fuses the slices' gradients)."""
    return [x[index] for index in indices]


def pool(x, window, strides, padding, mode):
    """Keras's pooling (`structconv._backend.keras_pool`), except one axis averaged in whole windows when
    no gradient is taken: a mean over a reshaped axis. XLA's `reduce_window` took 24 ms where the reshape
    takes 3 ms for the second pass of a 2 x 32^4 x 16 average pool 2 (AMD EPYC, 1 thread); under a
    gradient the reshape made XLA's backward of the first pass 2.3-8x slower in benchmarks/pooling.py, so
    training keeps `reduce_window`."""
    if (mode == "average" and padding == "valid" and len(window) == 1 and tuple(window) == tuple(strides)
            and not is_differentiating(x)):
        n, k = x.shape[1], window[0]
        whole = x[:, : (n // k) * k].reshape(-1, n // k, k, x.shape[2])
        return jnp.mean(whole, axis=2)
    return keras_pool(x, window, strides, padding, mode)
