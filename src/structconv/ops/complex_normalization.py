"""Complex standardisation by 2x2 whitening (Trabelsi et al., "Deep Complex Networks", ICLR 2018).

A complex variable `z = x + iy` is centred and multiplied by the inverse square root of the covariance
matrix `V = [[Vrr, Vri], [Vri, Vii]]` of `(x, y)`, so that the result has covariance `I` (its real and
imaginary parts uncorrelated, each of variance 1), not only `E|z|^2 = 1`. For a 2x2 symmetric positive
definite `V`, with `s = sqrt(det V)` and `t = sqrt(Vrr + Vii + 2 s)`,
`V^(-1/2) = [[Vii + s, -Vri], [-Vri, Vrr + s]] / (s t)`: closed form, no eigen-decomposition.
`ComplexBatchNormalization` takes the statistics over the batch (and spatial axes),
`ComplexLayerNormalization` over each example's features.
"""

from keras import ops

from structconv.ops.complex_conv import split_complex


def _mean(x, axes):
    """A sum divided by the count: Keras's torch `mean` reduces float64 in float32 (1e-7 errors)."""
    count = 1
    for axis in axes:
        count = count * ops.shape(x)[axis]  # a tensor where the size is only known at run time
    return ops.sum(x, axis=axes, keepdims=True) / ops.cast(count, x.dtype)


def complex_moments(real, imag, axes):
    """`(mean_r, mean_i, Vrr, Vri, Vii)` over `axes` (kept as size-1 axes), biased (divided by n)."""
    axes = tuple(axes)
    mean_r, mean_i = _mean(real, axes), _mean(imag, axes)
    centred_r, centred_i = real - mean_r, imag - mean_i
    vrr = _mean(centred_r * centred_r, axes)
    vri = _mean(centred_r * centred_i, axes)
    vii = _mean(centred_i * centred_i, axes)
    return mean_r, mean_i, vrr, vri, vii


def whiten(real, imag, mean_r, mean_i, vrr, vri, vii, epsilon):
    """`V^(-1/2) ((x, y) - mean)` with `V + epsilon I` in place of `V` (all arguments broadcast)."""
    vrr, vii = vrr + epsilon, vii + epsilon
    s = ops.sqrt(vrr * vii - vri * vri)
    t = ops.sqrt(vrr + vii + 2 * s)
    inverse = 1 / (s * t)
    wrr, wii, wri = (vii + s) * inverse, (vrr + s) * inverse, -vri * inverse
    centred_r, centred_i = real - mean_r, imag - mean_i
    return wrr * centred_r + wri * centred_i, wri * centred_r + wii * centred_i


def complex_affine(real, imag, gamma_rr, gamma_ri, gamma_ii, beta_r, beta_i):
    """`[[gamma_rr, gamma_ri], [gamma_ri, gamma_ii]] (x, y) + (beta_r, beta_i)`: the learned 2x2 scale."""
    return gamma_rr * real + gamma_ri * imag + beta_r, gamma_ri * real + gamma_ii * imag + beta_i


def complex_standardize(z, axes, epsilon=1e-3):
    """Whitens `z` (a complex tensor or a pair) with its own moments over `axes`; returns a pair.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(1000); y = 0.5 * x + 0.1 * rng.standard_normal(1000)
    >>> real, imag = complex_standardize((x, y), axes=(0,), epsilon=0.0)
    >>> bool(np.allclose(np.cov(np.asarray(real), np.asarray(imag), bias=True), np.eye(2), atol=1e-5))
    True
    """
    real, imag, _ = split_complex(z, "z")
    return whiten(real, imag, *complex_moments(real, imag, axes), epsilon)
