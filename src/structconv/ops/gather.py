"""`gather`: entries of a tensor picked by a constant index array, in a form every exporter can express."""

import numpy as np
from keras import ops

from structconv._backend import get_backend


def gather(x, indices, axis=0):
    """`x` indexed by a constant 1-D integer NumPy array `indices` along `axis` (`x[indices]` for axis 0).

    `keras.ops.take` does the same but, on PyTorch, ravels its indices (`aten::ravel`), which `torch.onnx`
    cannot export: a `Mask`-parametrized layer or a grouped complex convolution would not export to ONNX.
    This one goes through the backend tier (`index_select` on PyTorch, a Gather in every exported graph).

    Example:

    >>> import numpy as np
    >>> np.asarray(gather(ops.convert_to_tensor([1.0, 2.0, 3.0]), np.array([2, 0, 0]))).tolist()
    [3.0, 1.0, 1.0]
    """
    x = ops.convert_to_tensor(x)
    return get_backend().gather(x, np.asarray(indices), axis % len(x.shape))
