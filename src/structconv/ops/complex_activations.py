"""Complex activation functions, on complex tensors or `(real, imag)` pairs (the output takes the input's
form).

- `mod_relu(z, bias)`: `relu(|z| + bias) * z / |z|` (Arjovsky et al. 2016): the phase is kept, the modulus
  shifted by a (trainable) bias and rectified.
- `crelu(z)`: `relu(re) + i relu(im)` (Trabelsi et al. 2018).
- `zrelu(z)`: `z` where its phase is in `[0, pi / 2]` (`re >= 0` and `im >= 0`), else 0 (Guberman 2016).
- `cardioid(z)`: `(1 + cos(arg z)) / 2 * z` = `(1 + re / |z|) / 2 * z` (Virtue et al. 2017): phase-sensitive,
  real inputs get a ReLU.

At `z = 0`, where `z / |z|` has no value, every activation returns 0 with finite gradients: the modulus is
taken as `sqrt` of `re^2 + im^2` only where that is positive (the "double where"), so no NaN reaches the
gradient from the branch that is not taken.
"""

from keras import ops

from structconv.ops.complex_conv import join_complex, split_complex


def _safe_modulus(real, imag):
    """`(|z|, nonzero)`: `|z|` where `z != 0` and 1 elsewhere (finite gradient), and the mask of `z != 0`."""
    squared = real * real + imag * imag
    nonzero = ops.greater(squared, 0)
    return ops.sqrt(ops.where(nonzero, squared, ops.ones_like(squared))), nonzero


def mod_relu(z, bias):
    """`relu(|z| + bias) * z / |z|` (0 at `z = 0`); `bias` broadcasts against the parts (e.g. one per
    channel).

    >>> import numpy as np
    >>> real, imag = mod_relu((np.array([3.0, 0.3]), np.array([4.0, 0.4])), -1.0)
    >>> np.round(np.asarray(real, 'float64'), 6).tolist(), np.round(np.asarray(imag, 'float64'), 6).tolist()
    ([2.4, 0.0], [3.2, 0.0])
    """
    real, imag, as_pair = split_complex(z, "z")
    modulus, nonzero = _safe_modulus(real, imag)
    shifted = ops.relu(modulus + ops.cast(bias, real.dtype))
    scale = ops.where(nonzero, shifted / modulus, ops.zeros_like(modulus))
    return join_complex(real * scale, imag * scale, as_pair)


def crelu(z):
    """`relu(re) + i relu(im)`.

    >>> import numpy as np
    >>> [(np.asarray(p) + 0.0).tolist() for p in crelu((np.array([1.0, -1.0]), np.array([-2.0, 2.0])))]
    [[1.0, 0.0], [0.0, 2.0]]
    """
    real, imag, as_pair = split_complex(z, "z")
    return join_complex(ops.relu(real), ops.relu(imag), as_pair)


def zrelu(z):
    """`z` where `re >= 0` and `im >= 0` (phase in the first quadrant), else 0.

    >>> import numpy as np
    >>> [(np.asarray(p) + 0.0).tolist() for p in zrelu((np.array([1.0, -1.0]), np.array([2.0, 2.0])))]
    [[1.0, 0.0], [2.0, 0.0]]
    """
    real, imag, as_pair = split_complex(z, "z")
    keep = ops.cast(ops.logical_and(ops.greater_equal(real, 0), ops.greater_equal(imag, 0)), real.dtype)
    return join_complex(real * keep, imag * keep, as_pair)


def cardioid(z):
    """`(1 + re / |z|) / 2 * z` (0 at `z = 0`): 1 on the positive real axis, 0 on the negative one.

    >>> import numpy as np
    >>> out = cardioid((np.array([2.0, -2.0, 0.0]), np.array([0.0, 0.0, 3.0])))
    >>> [(np.asarray(p) + 0.0).tolist() for p in out]  # + 0.0: no negative zeros
    [[2.0, 0.0, 0.0], [0.0, 0.0, 1.5]]
    """
    real, imag, as_pair = split_complex(z, "z")
    modulus, nonzero = _safe_modulus(real, imag)
    scale = ops.where(nonzero, 0.5 * (1 + real / modulus), ops.zeros_like(modulus))
    return join_complex(real * scale, imag * scale, as_pair)


ACTIVATIONS = {"crelu": crelu, "zrelu": zrelu, "cardioid": cardioid}
