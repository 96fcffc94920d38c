"""`gradient`: reverse-mode gradients through the active backend's own autodiff.

Keras 3 has no backend-neutral gradient function, so the demo asks the framework directly. This is
the only place in the demo that names a backend.
"""

import keras
import numpy as np


def gradient(fn, *args):
    """Returns the gradients of the scalar `fn(*args)` with respect to each argument, as NumPy."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grads = jax.grad(fn, argnums=tuple(range(len(args))))(*args)
    elif backend == "torch":
        import torch

        args = [keras.ops.convert_to_tensor(a).detach().requires_grad_(True) for a in args]
        grads = torch.autograd.grad(fn(*args), args)
    elif backend == "tensorflow":
        import tensorflow as tf

        args = [tf.convert_to_tensor(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(args)
            value = fn(*args)
        grads = tape.gradient(value, args)
    else:
        raise NotImplementedError(f"No gradient for Keras backend {backend!r}.")
    return [np.asarray(keras.ops.convert_to_numpy(g)) for g in grads]
