"""PyTorch implementation of the backend tier (see README.md): the runtime (devices, threads, timing of
candidates), FFTs, pooling and the small ops here; its convolutions are `torch_conv`'s, exported from
here under the backend tier's names.
"""

import torch
import torch.nn.functional as F

from structconv._backend import keras_pool
from structconv._backend.torch_conv import (  # noqa: F401
    channels_first_copy,
    conv,
    conv_im2col,
    conv_transpose,
    im2col_helps,
    slow_single_item,
)

PREFERRED_DATA_FORMAT = "channels_first"
# Above the highest rank of torch's own convolution (conv1d-conv3d, `native_max_rank`)
# structconv.ops.decomposition peels axes onto conv3d, oneDNN's fastest native convolution, which gains
# from many input channels (measured by benchmarks/calibrate_decomposition.py, docs/benchmarks.md). How the
# peeled taps are stacked is a plan's decision (the profile's strategy, or measured).
DECOMPOSE_TO_RANK = 3
# Only TensorFlow traces graphs with unknown spatial sizes that `conv` must pad at run time.
DYNAMIC_SAME_PADDING = False
# Max pooling runs fastest with many channels in channels-last memory (see `pool`): a channels_first
# input pools its leading spatial axes first, the trailing ones riding along as channels.
POOL_MAX_OVER_LEADING_AXES = True
# The highest rank an exported graph may hold as one convolution (None: no limit; see the JAX module).
EXPORT_NATIVE_MAX_RANK = None
# Ranks at which the backend's own convolution of channels_last data may run on a channels-first copy of
# the input (`channels_first_copy`), a candidate of training steps: torch runs a channels_last input as
# channels-last memory, and oneDNN's gradient of a channels-last 2-D convolution leaves its fast path past
# 13x13 taps on an AMD EPYC without AVX-512 (64^2, 16 -> 16 channels, k=15, 2 threads: 1390 ms against
# 46 ms on a contiguous channels-first copy, whose forward is 3x slower; 3-D copies ran 2-100x slower).
CHANNELS_FIRST_COPY_RANKS = (2,)


def is_differentiating(*tensors):
    """Whether autograd will differentiate through an op on `tensors` (eager PyTorch knows it up front)."""
    return torch.is_grad_enabled() and any(getattr(t, "requires_grad", False) for t in tensors)


def device_of(*tensors):
    """"gpu" when a tensor lives on a CUDA device, "meta" on the meta device (Keras infers shapes there:
    nothing runs), else "cpu"."""
    kinds = {getattr(getattr(t, "device", None), "type", "cpu") for t in tensors}
    return "gpu" if "cuda" in kinds else "meta" if "meta" in kinds else "cpu"


def thread_count():
    return torch.get_num_threads()


def accelerator_name(device):
    return torch.cuda.get_device_name() if device == "gpu" and torch.cuda.is_available() else ""


def framework_version():
    return torch.__version__


def kernel_library(device):
    """Which kernels run the CPU convolutions, for the machine's fingerprint: "oneDNN" unless it is off
    (`torch.backends.mkldnn`), else "native"."""
    if device != "cpu":
        return ""
    mkldnn = torch.backends.mkldnn
    return "oneDNN" if mkldnn.is_available() and mkldnn.enabled else "native"


def timing_needs_own_thread():
    """Whether measured planning must time candidates in a worker thread: only while `torch.compile`
    traces (eager torch times them in the calling thread, as they will run: in a fresh thread, whose
    OpenMP team competes with the calling thread's spinning one, a 1-D direct convolution that takes
    1.4 ms took 1.6-2.8 ms, on the 2-core VM)."""
    return bool(torch.compiler.is_compiling())


def first_call_is_a_run(device):
    """Whether the first call of `compile_for_timing`'s callable takes as long as the calls after it: no
    (eager torch sets up its FFT descriptors, oneDNN primitives, and on a GPU cuFFT plans and cuDNN's
    choice, on the first call of a shape)."""
    return False


def native_max_rank(device):
    """The highest rank `conv` runs as one convolution (conv3d), on any device."""
    return 3


def native_only_max_rank(device):
    """The highest rank at which `conv` is the one direct way (see the TensorFlow module): every rank it
    has; its 3-D convolution was faster than the decomposition onto its 2-D one at 16 of 17 shapes
    (`benchmarks/direct_rank3.py`, AMD EPYC, 2 threads)."""
    return 3


def unpadded_slow(rank, channels, groups, dtype, device):
    """Whether a convolution without padding may run far slower than with one output row more on zero
    padding (see the JAX module): not measured so."""
    return False


def odd_channels_slow(rank, channels, groups, dtype, device):
    """Whether a convolution of an odd number of input channels may run far slower than on one channel
    more (see the JAX module): not measured so."""
    return False


def staged(function, static, *tensors):
    """`function(*static, *tensors)`: PyTorch runs an eager call op by op without compiling each op for new
    shapes (JAX's module compiles it as one program)."""
    return function(*static, *tensors)


def traced_for_xla():
    """False: the torch backend runs no XLA form (`compile_for_timing` runs eagerly)."""
    return False


def compile_for_timing(function, arrays, gradient, device, xla=False, dtype=None):
    """A callable that runs `function` on tensors made from the NumPy `arrays` (as `dtype` where given:
    NumPy has no bfloat16) once, as a model runs it (eagerly, whatever `xla`; with the backward pass of
    `sum(function(...))` when `gradient`), and waits for the result."""
    where = "cuda" if device == "gpu" else "cpu"
    tensors = [torch.as_tensor(a, device=where) for a in arrays]
    if dtype is not None:
        tensors = [t.to(getattr(torch, dtype)) for t in tensors]
    tensors = [t.requires_grad_(gradient) for t in tensors]

    def run():
        with torch.set_grad_enabled(gradient):
            y = function(*tensors)
            if gradient:
                torch.autograd.grad(y.sum(), tensors)
        if where == "cuda":
            torch.cuda.synchronize()

    return run


def rfftn(x, axes, lengths):
    """Real N-D FFT over `axes` (trailing axes), zero-padding each to its length in `lengths`."""
    return torch.fft.rfftn(x, s=tuple(lengths), dim=tuple(axes))


def irfftn(x, axes, lengths):
    """Inverse of `rfftn`: a real tensor with `lengths` along `axes`."""
    return torch.fft.irfftn(x, s=tuple(lengths), dim=tuple(axes))


def fft_axis_order(rank):
    """The order of the spatial axes in the spectrum of `fftn`: natural (torch transforms any axes)."""
    return tuple(range(rank))


def fftn(x, lengths):
    """Complex FFT of `(B, C, *spatial)` over every spatial axis, zero-padded to `lengths`."""
    return torch.fft.fftn(x, s=tuple(lengths), dim=tuple(range(2, x.ndim)))


def ifftn(x):
    """Inverse of `fftn`."""
    return torch.fft.ifftn(x, dim=tuple(range(2, x.ndim)))


def einsum(subscripts, *operands):
    """`einsum` that keeps complex128 (Keras's promotion rules turn it into complex64 on some backends).

    Operands are made contiguous first: on permuted views torch's batched matrix product takes a strided
    path that measured 7x slower (complex64, 16 x 16 channels per frequency: 82 ms against 12 ms)."""
    return torch.einsum(subscripts, *(operand.contiguous() for operand in operands))


def matmul(a, b):
    """`a @ b` with the batch axes broadcast, keeping complex128 (as `einsum`)."""
    return torch.matmul(a, b)


def channel_products(x, k):
    """`sum over c of x[:, :, c : c + 1] * k[c][None]`: `x` `(B, g, C / g, S)` and `k` `(C / g, g, F / g, S)`
    to `(B, g, F / g, S)`, the channel-major spectral product (`ops.fft_conv._spectra_product`), accumulated
    in place: eager torch otherwise allocates two full-size products per input channel (4 -> 16 channels,
    4 x 224 x 113 spectra, 2 threads of an AMD EPYC: 3.0 ms against 5.7 ms). Autograd allows it: the
    accumulator's value is not needed by any gradient."""
    y = x[:, :, 0:1] * k[0][None]
    for c in range(1, x.shape[2]):
        y.addcmul_(x[:, :, c : c + 1], k[c][None])
    return y


def complex(real, imag):  # noqa: A001  (the backend tier mirrors the frameworks' names)
    """The complex tensor `real + i imag` (`keras.ops` has no constructor for one)."""
    return torch.complex(real, imag)


def fft2(x, axes):
    """Complex 2-D FFT of `x` over its two `axes` (free-space propagation: channels_last transforms axes 1
    and 2 in place, through strides)."""
    return torch.fft.fft2(x, dim=tuple(axes))


def ifft2(x, axes):
    """Inverse of `fft2`."""
    return torch.fft.ifft2(x, dim=tuple(axes))


def constant_like(array, like):
    """A NumPy array as a tensor on the device of `like`. On the CPU it shares the array's memory:
    `keras.ops.convert_to_tensor` copies it, 1 ms per call for a cached 1024^2 complex64 transfer function
    (5% of a propagation). Callers never write into the result."""
    return torch.as_tensor(array, device=like.device)


def gather(x, indices, axis):
    """`x` indexed by the constant 1-D integer NumPy array `indices` along `axis`. `keras.ops.take` ravels its
    indices on PyTorch (`aten::ravel`), an operator `torch.onnx` cannot export; `index_select` exports as a
    Gather."""
    return torch.index_select(x, axis, torch.as_tensor(indices, dtype=torch.int64, device=x.device))


def slice_window(x, index):
    """`x[index]` for a tuple `index` of Python slices of its leading axes: a view (the backend tier's
    slice, whose gradient is a pad; see the TensorFlow module)."""
    return x[index]


def slice_windows(x, indices):
    """`[x[index] for index in indices]`, views, whose gradient where one is taken is gathered in one
    buffer (`_Windows`): each slice's own gradient (SliceBackward) fills a tensor of `x`'s size with
    zeros, copies into it and is summed with the others, which took about a third of a decomposed 4-D
    training step's CPU time."""
    indices = tuple(indices)
    if (len(indices) > 1 and x.requires_grad and torch.is_grad_enabled()
            and not torch.compiler.is_compiling() and not torch.jit.is_tracing()):
        return list(_Windows.apply(x, indices))
    return [x[index] for index in indices]


class _Windows(torch.autograd.Function):
    """Slices of one tensor; backward: one buffer of zeros, each slice's gradient added into its window."""

    @staticmethod
    def forward(ctx, x, indices):
        ctx.set_materialize_grads(False)
        ctx.shape, ctx.indices = x.shape, indices
        return tuple(x[index] for index in indices)

    @staticmethod
    def backward(ctx, *grads):
        grad = None
        for index, part in zip(ctx.indices, grads):
            if part is not None:
                if grad is None:
                    grad = part.new_zeros(ctx.shape)
                grad[index].add_(part)
        return grad, None


_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _channels_first(x):
    """`(N, *spatial, C)` seen as `(N, C, *spatial)`, a view (explicit axes: `torch.onnx` exports
    `movedim(-1, 1)` as a Transpose with a negative axis, which onnxruntime rejects)."""
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def _channels_last(x):
    """The inverse of `_channels_first`."""
    return x.permute(0, *range(2, x.ndim), 1)


def pool(x, window, strides, padding, mode):
    """Max (`mode` "max") or average ("average") pooling of `x`, `(N, *group, T)`, over its 1-3 `group`
    axes; the `T` axis (the channels and the axes after the group, folded) rides along. `padding` "valid"
    or "same" (Keras's rule; average pooling reaches here with "valid" only).

    Torch's kernels differ by memory layout (2-vCPU AMD EPYC, 1 thread, 2 x 32^4 x 16 channels, pool 2):
    max pooling is vectorised over the channels of channels-last memory (`(N, *group, T)` seen as
    `(N, T, *group)`: 47 ms for a pass that takes 170 ms on the same data with `T` = 1), average pooling
    over channels-first memory (46 ms with `T` = 1, 150 ms channels-last). Keras's channels_last pooling
    transposes to channels_first and back around each call. So: max pools the channels-last view, no copy;
    average pools with `T` as a trailing window-1 axis (channels-first memory, no copy).
    """
    rank = len(window)
    if padding != "valid":  # torch pads symmetrically only: Keras's own rule for "same"
        return keras_pool(x, window, strides, padding, mode)
    window, strides = tuple(window), tuple(strides)
    if mode == "max":
        return _channels_last(_MAX_POOL[rank](_channels_first(x), window, strides))
    if rank == 1 and window == strides:
        # One axis in whole windows: a mean over a reshaped axis (2.6 ms against 23 ms through Keras's
        # transposes for the second pass of that 4-D pool; JAX does the same, without a gradient only).
        n, k = x.shape[1], window[0]
        whole = x[:, : (n // k) * k].reshape(x.shape[0], n // k, k, x.shape[2])
        return torch.mean(whole, dim=2)
    if x.shape[-1] == 1:
        return _channels_last(_AVG_POOL[rank](_channels_first(x), window, strides))
    if rank < 3:
        return _AVG_POOL[rank + 1](x.unsqueeze(1), (*window, 1), (*strides, 1)).squeeze(1)
    # Three axes and channels: two passes in channels-first memory (125 ms) beat a transposed copy (171 ms).
    n, g1, g2, g3, t = x.shape
    inner = pool(x.reshape(n * g1, g2, g3, t), window[1:], strides[1:], padding, mode)
    o2, o3 = inner.shape[1], inner.shape[2]
    outer = pool(inner.reshape(n, g1, o2 * o3 * t), window[:1], strides[:1], padding, mode)
    return outer.reshape(n, outer.shape[1], o2, o3, t)
