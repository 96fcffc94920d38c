"""Whether a call is being traced into an exported graph (ONNX, torch.export, jax2tf), where some ops take
another form: convolutions plan direct, free-space propagation replaces its FFTs by real DFT matrices."""

import sys

from structconv.ops.problem import is_static


def exporting_to_onnx():
    """Whether Keras's ONNX export is tracing this call. On TensorFlow it traces a `tf.function` with an
    unknown (None, not symbolic) batch size and converts the graph with tf2onnx, which cannot express FFTs
    (an RFFT2D node makes an invalid ONNX model), so nothing in the shapes tells the graph is an export; on
    PyTorch it traces with TorchScript, whose sizes are Python ints."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(("keras.src.export.onnx", "tf2onnx")):
            return True
        frame = frame.f_back
    return False


def has_symbolic_size(shape):
    """Whether a size of `shape` is symbolic (torch.export's SymInt, jax2tf's polymorphic dimension): neither
    a Python int nor None."""
    return not all(n is None or type(n) is int or is_static(n) for n in tuple(shape))


def unless_symbolic(cached, *shapes):
    """`cached` (a `functools.lru_cache` of shapes and arguments, which an eager loop repeats), or the
    function it wraps where a size of `shapes` is symbolic: hashing or comparing such a size may fail or
    add a guard to an exported graph."""
    return cached.__wrapped__ if any(has_symbolic_size(shape) for shape in shapes) else cached


def exporting(shape):
    """Whether a tensor of `shape` is traced for an exported graph: a symbolic size or an ONNX export."""
    return has_symbolic_size(shape) or exporting_to_onnx()
