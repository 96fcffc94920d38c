"""`ComplexLayerNormalization`: each example's features whitened by their own 2x2 covariance."""

import math

import keras
from keras import ops

from structconv.errors import invalid_argument
from structconv.layers.complex_forms import part_shape, same_form_spec
from structconv.ops.complex_conv import join_complex, split_complex
from structconv.ops.complex_normalization import complex_affine, complex_standardize


@keras.saving.register_keras_serializable(package="structconv")
class ComplexLayerNormalization(keras.layers.Layer):
    """Whitens each example over `axis` (2x2 covariance of its real and imaginary parts, Trabelsi et al.
    2018), then applies a learned 2x2 scale and complex shift per normalised entry. No moving statistics:
    training and inference compute the same thing.

    Args:
        axis: an int or a tuple of ints, the axes normalised together (default -1), as
            `keras.layers.LayerNormalization`.
        epsilon: added to `Vrr` and `Vii` (default 1e-3).
        center, scale: whether to learn `beta` and the 2x2 `gamma` (shape of the normalised axes).
        beta_initializer: default zeros; gamma_diagonal_initializer: `gamma_rr`, `gamma_ii`, default
            `1 / sqrt(2)`; gamma_off_diagonal_initializer: `gamma_ri`, default zeros.

    Input shape:
        A complex tensor or a `(real, imag)` pair.

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> layer = ComplexLayerNormalization(epsilon=0.0, gamma_diagonal_initializer="ones", dtype="float64")
    >>> x, y = np.random.default_rng(0).standard_normal((2, 2, 64))
    >>> real, imag = layer((x, 0.5 * x + y + 1.0))  # two examples of 64 correlated complex features
    >>> real, imag = keras.ops.convert_to_numpy(real), keras.ops.convert_to_numpy(imag)
    >>> covariance = np.cov(real[0], imag[0], bias=True)
    >>> bool(np.allclose(covariance, np.eye(2), atol=1e-5))
    True
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_diagonal_initializer=None, gamma_off_diagonal_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise invalid_argument("axis", axis, "an int or a tuple of ints")
        self.axis = tuple(axes) if isinstance(axis, (tuple, list)) else axis
        self._axes = tuple(axes)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_diagonal_initializer = keras.initializers.get(
            gamma_diagonal_initializer or keras.initializers.Constant(1 / math.sqrt(2)))
        self.gamma_off_diagonal_initializer = keras.initializers.get(gamma_off_diagonal_initializer)

    def build(self, input_shape):
        shape = part_shape(input_shape)
        self._axes = tuple(sorted(a % len(shape) for a in self._axes))
        self._broadcast = [shape[i] if i in self._axes else 1 for i in range(len(shape))]
        params = tuple(shape[i] for i in self._axes)
        if self.scale:
            self.gamma_rr = self.add_weight(name="gamma_rr", shape=params,
                                            initializer=self.gamma_diagonal_initializer, autocast=False)
            self.gamma_ri = self.add_weight(name="gamma_ri", shape=params,
                                            initializer=self.gamma_off_diagonal_initializer, autocast=False)
            self.gamma_ii = self.add_weight(name="gamma_ii", shape=params,
                                            initializer=self.gamma_diagonal_initializer, autocast=False)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(*params, 2), initializer=self.beta_initializer,
                                        autocast=False)

    def call(self, inputs):
        real, imag, as_pair = split_complex(inputs, "inputs")
        dtype = keras.backend.standardize_dtype(real.dtype)
        work = "float32" if dtype in ("float16", "bfloat16") else dtype
        real, imag = complex_standardize((ops.cast(real, work), ops.cast(imag, work)), self._axes,
                                         self.epsilon)

        def entry(value):
            return ops.reshape(ops.cast(value, work), self._broadcast)

        if self.scale or self.center:
            gamma = ((entry(self.gamma_rr), entry(self.gamma_ri), entry(self.gamma_ii)) if self.scale
                     else (1.0, 0.0, 1.0))
            beta = (entry(self.beta[..., 0]), entry(self.beta[..., 1])) if self.center else (0.0, 0.0)
            real, imag = complex_affine(real, imag, *gamma, *beta)
        return join_complex(ops.cast(real, dtype), ops.cast(imag, dtype), as_pair)

    def compute_output_spec(self, inputs):
        return same_form_spec(inputs)

    def get_config(self):
        serialize = keras.initializers.serialize
        return {
            **super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
            "scale": self.scale, "beta_initializer": serialize(self.beta_initializer),
            "gamma_diagonal_initializer": serialize(self.gamma_diagonal_initializer),
            "gamma_off_diagonal_initializer": serialize(self.gamma_off_diagonal_initializer),
        }
