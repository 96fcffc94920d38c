"""`ComplexBatchNormalization`: batch normalisation by 2x2 whitening, with moving statistics."""

import math

import keras
from keras import ops

from structconv.layers.complex_forms import part_shape, same_form_spec
from structconv.ops.complex_conv import join_complex, split_complex
from structconv.ops.complex_normalization import complex_affine, complex_moments, whiten

_INVERSE_SQRT_2 = 1 / math.sqrt(2)


@keras.saving.register_keras_serializable(package="structconv")
class ComplexBatchNormalization(keras.layers.Layer):
    """Whitens each complex feature over the batch, then applies a learned 2x2 scale and complex shift.

    Trabelsi et al. (2018): `z` is centred by its batch mean and multiplied by the inverse square root of
    the 2x2 covariance of its real and imaginary parts (see `structconv.ops.complex_normalization`), so the
    parts come out uncorrelated with unit variance; then
    `[[gamma_rr, gamma_ri], [gamma_ri, gamma_ii]] (x, y) + beta`.

    The `training` semantics are Keras's `BatchNormalization`: with `training=True` the batch's statistics
    are used and the moving ones updated (`moving = momentum * moving + (1 - momentum) * batch`); otherwise
    the moving statistics are used. A layer with `trainable = False` always runs in inference mode (and
    does not update its statistics), as Keras's layer does for fine-tuning. float16/bfloat16 inputs are
    normalised in float32 and returned in their dtype.

    Args:
        axis: the feature axis (default -1; 1 for channels_first).
        momentum, epsilon: as `keras.layers.BatchNormalization` (`epsilon` is added to `Vrr` and `Vii`).
        center, scale: whether to learn `beta` and the 2x2 `gamma`.
        beta_initializer: default zeros.
        gamma_diagonal_initializer: `gamma_rr` and `gamma_ii`; default `1 / sqrt(2)`, so that `E|z|^2 = 1`.
        gamma_off_diagonal_initializer: `gamma_ri`; default zeros.
        moving_mean_initializer: default zeros; moving_variance_initializer: `Vrr` and `Vii`, default
            `1 / sqrt(2)`; moving_covariance_initializer: `Vri`, default zeros (Trabelsi et al.'s choices).

    Variables: `gamma_rr`, `gamma_ri`, `gamma_ii` `(features,)`, `beta` `(features, 2)` (real, imag);
    non-trainable `moving_mean` `(features, 2)`, `moving_vrr`, `moving_vri`, `moving_vii` `(features,)`.

    Input shape:
        A complex tensor or a `(real, imag)` pair of any rank >= 2.

    Output shape:
        The same.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((256, 2)); y = x + 0.3 * rng.standard_normal((256, 2))
    >>> layer = ComplexBatchNormalization(epsilon=0.0, gamma_diagonal_initializer="ones", dtype="float64")
    >>> real, imag = layer((x, y), training=True)
    >>> real, imag = keras.ops.convert_to_numpy(real), keras.ops.convert_to_numpy(imag)
    >>> bool(np.allclose(np.cov(real[:, 0], imag[:, 0], bias=True), np.eye(2), atol=1e-5))
    True
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_diagonal_initializer=None,
                 gamma_off_diagonal_initializer="zeros",
                 moving_mean_initializer="zeros", moving_variance_initializer=None,
                 moving_covariance_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        diagonal = keras.initializers.Constant(_INVERSE_SQRT_2)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_diagonal_initializer = keras.initializers.get(gamma_diagonal_initializer or diagonal)
        self.gamma_off_diagonal_initializer = keras.initializers.get(gamma_off_diagonal_initializer)
        self.moving_mean_initializer = keras.initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = keras.initializers.get(moving_variance_initializer or diagonal)
        self.moving_covariance_initializer = keras.initializers.get(moving_covariance_initializer)

    def build(self, input_shape):
        shape = part_shape(input_shape)
        features = shape[self.axis]
        statistic = {"shape": (features,), "trainable": False, "autocast": False}
        self.moving_mean = self.add_weight(name="moving_mean", initializer=self.moving_mean_initializer,
                                           **{**statistic, "shape": (features, 2)})
        self.moving_vrr = self.add_weight(name="moving_vrr", initializer=self.moving_variance_initializer,
                                          **statistic)
        self.moving_vri = self.add_weight(name="moving_vri", initializer=self.moving_covariance_initializer,
                                          **statistic)
        self.moving_vii = self.add_weight(name="moving_vii", initializer=self.moving_variance_initializer,
                                          **statistic)
        # autocast=False: under mixed precision the normalisation runs in float32 with float32 parameters
        if self.scale:
            self.gamma_rr = self.add_weight(name="gamma_rr", shape=(features,), autocast=False,
                                            initializer=self.gamma_diagonal_initializer)
            self.gamma_ri = self.add_weight(name="gamma_ri", shape=(features,), autocast=False,
                                            initializer=self.gamma_off_diagonal_initializer)
            self.gamma_ii = self.add_weight(name="gamma_ii", shape=(features,), autocast=False,
                                            initializer=self.gamma_diagonal_initializer)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(features, 2), initializer=self.beta_initializer,
                                        autocast=False)
        axis = self.axis % len(shape)
        self._reduction_axes = tuple(i for i in range(len(shape)) if i != axis)
        self._broadcast = [1] * len(shape)
        self._broadcast[axis] = features

    def call(self, inputs, training=None):
        real, imag, as_pair = split_complex(inputs, "inputs")
        dtype = keras.backend.standardize_dtype(real.dtype)
        work = "float32" if dtype in ("float16", "bfloat16") else dtype
        real, imag = ops.cast(real, work), ops.cast(imag, work)

        def feature(value):
            return ops.reshape(ops.cast(value, work), self._broadcast)

        if training and self.trainable:
            moments = complex_moments(real, imag, self._reduction_axes)
            self._update_moving_statistics([ops.reshape(m, (-1,)) for m in moments])
        else:
            moments = (feature(self.moving_mean[:, 0]), feature(self.moving_mean[:, 1]),
                       feature(self.moving_vrr), feature(self.moving_vri), feature(self.moving_vii))
        real, imag = whiten(real, imag, *moments, self.epsilon)
        if self.scale or self.center:
            gamma = ((feature(self.gamma_rr), feature(self.gamma_ri), feature(self.gamma_ii)) if self.scale
                     else (1.0, 0.0, 1.0))
            beta = (feature(self.beta[:, 0]), feature(self.beta[:, 1])) if self.center else (0.0, 0.0)
            real, imag = complex_affine(real, imag, *gamma, *beta)
        return join_complex(ops.cast(real, dtype), ops.cast(imag, dtype), as_pair)

    def _update_moving_statistics(self, batch):
        mean_r, mean_i, vrr, vri, vii = batch
        momentum = self.momentum

        def moved(variable, value):
            value = ops.cast(value, variable.dtype)
            return variable * momentum + value * (1 - momentum)

        self.moving_mean.assign(moved(self.moving_mean, ops.stack([mean_r, mean_i], axis=-1)))
        self.moving_vrr.assign(moved(self.moving_vrr, vrr))
        self.moving_vri.assign(moved(self.moving_vri, vri))
        self.moving_vii.assign(moved(self.moving_vii, vii))

    def compute_output_spec(self, inputs, training=None):
        return same_form_spec(inputs)

    def get_config(self):
        serialize = keras.initializers.serialize
        return {
            **super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": serialize(self.beta_initializer),
            "gamma_diagonal_initializer": serialize(self.gamma_diagonal_initializer),
            "gamma_off_diagonal_initializer": serialize(self.gamma_off_diagonal_initializer),
            "moving_mean_initializer": serialize(self.moving_mean_initializer),
            "moving_variance_initializer": serialize(self.moving_variance_initializer),
            "moving_covariance_initializer": serialize(self.moving_covariance_initializer),
        }
