"""Complex matrix product on real arithmetic: `(a + ib) @ (c + id)` as one real product with doubled sizes."""

from keras import ops

from structconv.ops.complex_conv import join_complex, split_complex

# Subscripts for the leading axes of `complex_matmul`'s `x` (not "n" or "m", its product's axes).
_LEADING = "abcdefghijklopqrstuvwxyz"


def complex_matmul(x, kernel):
    """`x @ kernel` for complex operands (no conjugate), each a complex tensor or a `(real, imag)` pair.

    `x` is `(..., n)` and `kernel` `(n, m)`; the output `(..., m)` takes the form of `x`. It runs as one
    real product `[a, b] @ [[c, d], [-d, c]]` (the "block" method of `complex_conv`): four real products'
    multiply-adds in one call, each output part exact to the dtype's rounding of its own magnitude.

    >>> import numpy as np
    >>> real, imag = complex_matmul((np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]])),
    ...                             (np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]])))
    >>> np.asarray(real).tolist(), np.asarray(imag).tolist()  # 1 * 1 + (2 + i) * i = 0 + 2i
    ([[0.0]], [[2.0]])
    """
    a, b, as_pair = split_complex(x, "x")
    c, d, _ = split_complex(kernel, "kernel")
    c, d = ops.cast(c, a.dtype), ops.cast(d, a.dtype)
    block = ops.concatenate([ops.concatenate([c, d], axis=1), ops.concatenate([-d, c], axis=1)], axis=0)
    # einsum, not matmul: Keras's torch `matmul` returns float32 for float64 operands. Leading axes spelled
    # out, not "...": TensorFlow's oneDNN kernels (its default on CPUs with AVX-512) computed
    # "...n,nm->...m" wrongly in float16 beyond the first row (errors of 8-14 on unit-scale operands,
    # TensorFlow 2.21), the spelled-out product to float16 rounding.
    lead = _LEADING[: len(a.shape) - 1]
    y = ops.einsum(f"{lead}n,nm->{lead}m", ops.concatenate([a, b], axis=-1), block)
    real, imag = ops.split(y, 2, axis=-1)
    return join_complex(real, imag, as_pair)
