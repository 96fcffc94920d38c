"""Output specs of layers that take a complex tensor or a `(real, imag)` pair and return the same form."""

import keras


def part_shape(input_shape):
    """The shape of one part: `input_shape` itself, or the first of a `(real, imag)` pair of shapes."""
    if isinstance(input_shape, (tuple, list)) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return tuple(input_shape[0])
    return tuple(input_shape)


def same_form_spec(inputs, shape=None):
    """A pair of `KerasTensor`s for a pair, one for a complex tensor; `shape` defaults to the input's."""
    if isinstance(inputs, (tuple, list)):
        shape = tuple(inputs[0].shape) if shape is None else shape
        return tuple(keras.KerasTensor(shape, dtype=inputs[0].dtype) for _ in range(2))
    return keras.KerasTensor(tuple(inputs.shape) if shape is None else shape, dtype=inputs.dtype)
