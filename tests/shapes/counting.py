"""NumPy implementations of Keras layers (one example) that count their own arithmetic as they run.

Each function computes the layer's output, which the tests compare with Keras's, so the counts are those of
a real implementation, found by running it, not by a formula: a matrix product of `(m, k)` by `(k, n)` adds
`m k n` multiply-adds and `2 m k n` FLOPs, an elementwise operation one FLOP per output element.
"""

import itertools
import math

import numpy as np


class Counter:
    def __init__(self):
        self.multiply_adds = 0
        self.flops = 0

    def accumulate(self, out, a, b):
        """`out += a @ b` for 2-D `a` and `b`, `out` any view with `a.shape[0] * b.shape[1]` entries."""
        m, k = a.shape
        n = b.shape[1]
        self.multiply_adds += m * k * n
        self.flops += 2 * m * k * n
        out += (a @ b).reshape(out.shape)

    def matmul(self, a, b):
        out = np.zeros((a.shape[0], b.shape[1]))
        self.accumulate(out, a, b)
        return out

    def elementwise(self, result):
        self.flops += np.asarray(result).size
        return result

    def total(self):
        return self.multiply_adds, self.flops


def conv(counter, x, kernel, strides, pads, dilation, groups=1, bias=None):
    """A direct convolution of one example `x` (spatial..., in) with `kernel` (taps..., in / groups, out)."""
    rank = x.ndim - 1
    padded = np.pad(x, [*pads, (0, 0)])
    taps = kernel.shape[:rank]
    sizes = [(padded.shape[i] - (taps[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(rank)]
    in_group, filters = kernel.shape[-2], kernel.shape[-1]
    out_group = filters // groups
    out = np.zeros((*sizes, filters))
    for tap in itertools.product(*(range(k) for k in taps)):
        window = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, o, s in zip(tap, dilation, sizes,
                                                                                         strides))
        patch = padded[window]
        for g in range(groups):
            a = patch[..., g * in_group:(g + 1) * in_group].reshape(-1, in_group)
            counter.accumulate(out[..., g * out_group:(g + 1) * out_group], a,
                               kernel[tap][:, g * out_group:(g + 1) * out_group])
    if bias is not None:
        out = counter.elementwise(out + bias)
    return out


def same_pads(size, kernel_size, stride, dilation):
    extent = (kernel_size - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def conv_transpose(counter, x, kernel, stride, padding, bias=None):
    """Keras's `ConvNDTranspose` of one example (no dilation, `output_padding=None`); `kernel` is
    (taps..., out, in). Every input position scatters `taps x out` products into the full output."""
    rank = x.ndim - 1
    taps = kernel.shape[:rank]
    filters = kernel.shape[-2]
    full = np.zeros((*[(n - 1) * s + k for n, s, k in zip(x.shape[:rank], stride, taps)], filters))
    flat = x.reshape(-1, x.shape[-1])
    for tap in itertools.product(*(range(k) for k in taps)):
        window = tuple(slice(t, t + (n - 1) * s + 1, s) for t, n, s in zip(tap, x.shape[:rank], stride))
        counter.accumulate(full[window], flat, kernel[tap].T)
    out = full
    for axis, (n, s, k) in enumerate(zip(x.shape[:rank], stride, taps)):
        if padding == "valid":  # n * s + max(k - s, 0) outputs: zero-extended where k < s
            length, start = n * s + max(k - s, 0), 0
        else:  # "same": n * s outputs, TensorFlow's crop
            length, start = n * s, max(k - s, 0) // 2
        extended = np.zeros((*out.shape[:axis], start + length + out.shape[axis], *out.shape[axis + 1:]))
        extended[(slice(None),) * axis + (slice(0, out.shape[axis]),)] = out
        out = np.take(extended, range(start, start + length), axis=axis)
    if bias is not None:
        out = counter.elementwise(out + bias)
    return out


def pool(counter, x, size, kind):
    """Valid pooling with stride = size: `size - 1` additions or comparisons per output, plus a division for
    an average."""
    rank = x.ndim - 1
    sizes = [n // s for n, s in zip(x.shape[:rank], size)]
    out = None
    for tap in itertools.product(*(range(s) for s in size)):
        part = x[tuple(slice(t, t + o * s, s) for t, o, s in zip(tap, sizes, size))]
        if out is None:
            out = part.copy()
        else:
            out = counter.elementwise(np.maximum(out, part) if kind == "max" else out + part)
    return out if kind == "max" else counter.elementwise(out / math.prod(size))


def attention(counter, query, value, weights, num_heads, key_dim, value_dim):
    """`MultiHeadAttention(query, value)` of one example with 2-D query and value (positions, features)."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights

    def project(x, kernel, bias):
        out = counter.matmul(x, kernel.reshape(kernel.shape[0], -1))
        return counter.elementwise(out + bias.reshape(-1)).reshape(x.shape[0], *bias.shape)

    q = counter.elementwise(project(query, wq, bq) / math.sqrt(key_dim))
    k, v = project(value, wk, bk), project(value, wv, bv)
    mixed = np.zeros((query.shape[0], num_heads, value_dim))
    for h in range(num_heads):
        scores = counter.matmul(q[:, h], k[:, h].T)
        # Softmax: an exponential, an addition into the row's sum and a division per score (subtracting
        # the row's maximum first only keeps the exponentials finite, and is not counted).
        exp = counter.elementwise(np.exp(scores - scores.max(-1, keepdims=True)))
        counter.flops += exp.size
        probabilities = counter.elementwise(exp / exp.sum(-1, keepdims=True))
        mixed[:, h] = counter.matmul(probabilities, v[:, h])
    out = counter.matmul(mixed.reshape(query.shape[0], -1), wo.reshape(-1, wo.shape[-1]))
    return counter.elementwise(out + bo)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def recurrent(counter, kind, x, kernel, recurrent_kernel, bias, units):
    """The last state of SimpleRNN, LSTM or GRU (Keras's gate order, GRU with `reset_after=True`)."""
    h = np.zeros(units)
    c = np.zeros(units)
    add, mul = (lambda a, b: counter.elementwise(a + b)), (lambda a, b: counter.elementwise(a * b))
    for step in x:
        xs = add(counter.matmul(step[None], kernel)[0], bias[0] if kind == "GRU" else bias)
        hs = counter.matmul(h[None], recurrent_kernel)[0]
        if kind == "SimpleRNN":
            h = np.tanh(add(xs, hs))
        elif kind == "LSTM":
            i, f, g, o = np.split(add(xs, hs), 4)
            c = add(mul(sigmoid(f), c), mul(sigmoid(i), np.tanh(g)))
            h = mul(sigmoid(o), np.tanh(c))
        else:
            hs = add(hs, bias[1])
            xz, xr, xh = np.split(xs, 3)
            hz, hr, hh = np.split(hs, 3)
            z, r = sigmoid(add(xz, hz)), sigmoid(add(xr, hr))
            candidate = np.tanh(add(xh, mul(r, hh)))
            h = add(mul(z, h), mul(counter.elementwise(1 - z), candidate))
    return h
