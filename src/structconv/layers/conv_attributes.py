"""What every convolution layer shares over its normalised `arguments` (`ops.arguments.ConvArguments`):
Keras's attribute names, the channel axis, and the bias and activation after the convolution."""

from keras import ops


def config_padding(padding):
    """`padding` as stored in the config: the name when every axis shares it, else one entry per axis."""
    if all(entry == padding[0] for entry in padding) and isinstance(padding[0], str):
        return padding[0]
    return tuple(entry if isinstance(entry, str) else tuple(entry) for entry in padding)


class ConvAttributes:
    """Mixed into a layer that holds `arguments`, `rank`, `use_bias`, `bias` and `activation`."""

    strides = property(lambda self: self.arguments.strides)
    dilation_rate = property(lambda self: self.arguments.dilation_rate)
    data_format = property(lambda self: self.arguments.data_format)
    padding_mode = property(lambda self: self.arguments.padding_mode)
    algorithm = property(lambda self: self.arguments.algorithm)
    padding = property(lambda self: config_padding(self.arguments.padding))

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _along_channels(self, vector):
        """`vector` (one entry per output channel) shaped to broadcast along the outputs' channel axis: as
        it is for channels_last, whose channels are the last axis (`keras.ops.reshape` alone took 17 us of
        an eager torch call), else `(1, C, 1, ...)`. Added with the tensor's own `+`: keras.ops.add on
        TensorFlow adds a (1, C, 1, ...) bias on the last axis whenever that axis also has C entries."""
        if self.data_format == "channels_last":
            return vector
        shape = [1] * (self.rank + 2)
        shape[1] = -1
        return ops.reshape(vector, shape)

    def _bias_and_activation(self, outputs):
        """`activation(outputs + bias)`, the bias along the channel axis (when the layer has one)."""
        if self.use_bias:
            outputs = outputs + self._along_channels(self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
