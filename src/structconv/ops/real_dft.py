"""The discrete Fourier transform of one axis as a product with constant real matrices (cos and sin), for
graphs that cannot hold complex tensors or FFTs (ONNX: onnxruntime runs no complex FFT).

A `(real, imag)` pair of shape `(..., n)` times the `(n, n + 2 p)` matrix `exp(-2 pi i k (j + p) / N)`
(`N = n + 2 p`) is the DFT of the field padded with `p` zeros on each side; the inverse matrix
`exp(2 pi i (j + p) k / N) / N`, `(N, n)`, returns only the `n` samples that the padding surrounded, so no
pad or crop is needed. Cost `O(n N)` per row against the FFT's `O(N log N)`: meant for exported models.
The matrices are computed in NumPy float64 (the product `k (j + p)` reduced modulo `N` in integers) and
rounded to the dtype once.
"""

import functools

import keras
import numpy as np

from structconv.ops.complex_matmul import complex_matmul


@functools.lru_cache(maxsize=64)
def dft_matrices(size, padding, dtype, inverse=False):
    """`(real, imag)` NumPy arrays of `dtype`: the forward matrix `(size, size + 2 padding)` or, `inverse`,
    the inverse one `(size + 2 padding, size)`, both applied on the right of a row of samples.

    >>> real, imag = dft_matrices(4, 0, "float64")
    >>> bool(np.allclose(real - 1j * (-imag), np.fft.fft(np.eye(4))))
    True
    """
    total = size + 2 * padding
    angle = 2 * np.pi * ((np.arange(size)[:, None] + padding) * np.arange(total)[None, :] % total) / total
    if inverse:
        real, imag = np.cos(angle).T / total, np.sin(angle).T / total
    else:
        real, imag = np.cos(angle), -np.sin(angle)
    # left writable: torch warns on (and copies) read-only arrays
    return real.astype(dtype), imag.astype(dtype)


def dft_last_axis(pair, padding, *, inverse=False):
    """The DFT (`inverse`: the inverse DFT) of the last axis of a `(real, imag)` pair of float tensors, in
    real arithmetic. Forward, the axis of `n` samples is zero-padded by `padding` on each side and becomes
    `n + 2 padding` frequencies; inverse, `n + 2 padding` frequencies become the `n` middle samples.

    >>> x = np.random.default_rng(0).standard_normal((2, 5))
    >>> real, imag = dft_last_axis((x, 0 * x), 1)
    >>> bool(np.allclose(np.asarray(real) + 1j * np.asarray(imag), np.fft.fft(np.pad(x, ((0, 0), (1, 1))))))
    True
    """
    real, _ = pair
    dtype = keras.backend.standardize_dtype(real.dtype)
    n = int(real.shape[-1])
    size = n - 2 * padding if inverse else n
    return complex_matmul(pair, dft_matrices(size, padding, dtype, inverse))
