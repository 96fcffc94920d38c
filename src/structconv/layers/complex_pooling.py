"""Complex pooling layers: by modulus (`ComplexMaxPooling*`) and by mean (`ComplexAveragePooling*`)."""

import keras

from structconv.errors import invalid_argument
from structconv.layers.complex_forms import part_shape, same_form_spec
from structconv.ops.complex_pooling import complex_average_pool, complex_max_pool_by_magnitude
from structconv.shapes.arithmetic import conv_output_size, normalize_data_format, normalize_tuple


class _ComplexPooling(keras.layers.Layer):
    """Keras's pooling arguments and shapes, on complex tensors or `(real, imag)` pairs."""

    pool_function = None
    fixed_rank = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, *, rank=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = self.fixed_rank or rank
        if self.rank not in (1, 2, 3):
            raise invalid_argument("rank", rank, "1, 2 or 3")
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise invalid_argument("padding", padding, "'valid' or 'same'")
        self.padding = padding.lower()
        self.data_format = normalize_data_format(data_format, default=keras.config.image_data_format())

    def call(self, inputs):
        return type(self).pool_function(inputs, self.pool_size, self.strides, self.padding, self.data_format)

    def compute_output_spec(self, inputs):
        shape = list(part_shape(inputs[0].shape if isinstance(inputs, (tuple, list)) else inputs.shape))
        first = 1 if self.data_format == "channels_last" else 2
        for axis, (k, s) in enumerate(zip(self.pool_size, self.strides)):
            shape[first + axis] = conv_output_size(shape[first + axis], k, s, self.padding)
        return same_form_spec(inputs, tuple(shape))

    def get_config(self):
        config = {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                  "padding": self.padding, "data_format": self.data_format}
        if self.fixed_rank is None:
            config["rank"] = self.rank
        return config


_register = keras.saving.register_keras_serializable(package="structconv")


@_register
class ComplexMaxPooling(_ComplexPooling):
    """Max pooling by modulus: each window's complex entry of largest `|z|` (phase kept).

    See `structconv.ops.complex_max_pool_by_magnitude`. Args as `keras.layers.MaxPooling2D` (`pool_size`,
    `strides`, `padding`, `data_format`), and `rank` (1 to 3, keyword-only).

    Input shape:
        A complex tensor or a `(real, imag)` pair, `(batch, *spatial, channels)` (or channels_first).

    Output shape:
        The same form, with pooled spatial sizes.

    Example:

    >>> import numpy as np
    >>> real, imag = ComplexMaxPooling2D(2)((np.random.rand(1, 4, 4, 3), np.random.rand(1, 4, 4, 3)))
    >>> tuple(real.shape)
    (1, 2, 2, 3)
    """

    pool_function = staticmethod(complex_max_pool_by_magnitude)


@_register
class ComplexAveragePooling(_ComplexPooling):
    """Average pooling of complex fields: each window's mean. Args as `ComplexMaxPooling`.

    Example:

    >>> import numpy as np
    >>> real, imag = ComplexAveragePooling1D(2)((np.ones((1, 4, 1)), np.zeros((1, 4, 1))))
    >>> np.asarray(real).ravel().tolist()
    [1.0, 1.0]
    """

    pool_function = staticmethod(complex_average_pool)


@_register
class ComplexMaxPooling1D(ComplexMaxPooling):
    """As `ComplexMaxPooling` with `rank=1`."""

    fixed_rank = 1


@_register
class ComplexMaxPooling2D(ComplexMaxPooling):
    """As `ComplexMaxPooling` with `rank=2`."""

    fixed_rank = 2


@_register
class ComplexMaxPooling3D(ComplexMaxPooling):
    """As `ComplexMaxPooling` with `rank=3`."""

    fixed_rank = 3


@_register
class ComplexAveragePooling1D(ComplexAveragePooling):
    """As `ComplexAveragePooling` with `rank=1`."""

    fixed_rank = 1


@_register
class ComplexAveragePooling2D(ComplexAveragePooling):
    """As `ComplexAveragePooling` with `rank=2`."""

    fixed_rank = 2


@_register
class ComplexAveragePooling3D(ComplexAveragePooling):
    """As `ComplexAveragePooling` with `rank=3`."""

    fixed_rank = 3
