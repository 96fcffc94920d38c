"""Dense <-> convolution conversion and `fully_convolutional`, against NumPy and the original models."""

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close, stock_or_reference, stock_runs, to_numpy

from structconv.errors import StructconvError
from structconv.shapes import conv_to_dense, dense_to_conv, fully_convolutional
from structconv.shapes.dense_conv import conv_kernel_to_dense_kernel, dense_kernel_to_conv_kernel

L = keras.layers


def built_dense(inputs, units, seed, activation=None):
    dense = L.Dense(units, activation=activation, bias_initializer="glorot_uniform",
                    kernel_initializer=keras.initializers.GlorotUniform(seed))
    dense.build((None, inputs))
    return dense


def to_channels_first(x):
    return np.moveaxis(x, -1, 1)


def run_conv(conv, x):
    """`conv(x)` for a stock Keras convolution, or its NumPy reference where the backend has no kernel for
    it on this device (TensorFlow without oneDNN: channels_first)."""
    def numpy_conv():
        kernel, *bias = conv.get_weights()
        rank = kernel.ndim - 2
        y = reference.conv_reference(x, kernel, 1, [(0, 0)] * rank, 1, data_format=conv.data_format)
        if bias:
            y = y + bias[0].reshape((-1,) + (1,) * rank if conv.data_format == "channels_first" else (-1,))
        return to_numpy(conv.activation(y))

    return stock_or_reference(lambda: conv(x), numpy_conv)


@pytest.mark.parametrize("map_shape", [(5, 3), (4, 3, 2), (3, 2, 4, 2)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("flatten_order", ["channels_last", "channels_first"])
def test_dense_to_conv_equals_dense(map_shape, data_format, flatten_order):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, *map_shape)).astype("float32")  # channels_last maps
    # The features as the Dense layer saw them: flattened in `flatten_order`, computed in NumPy.
    features = (x if flatten_order == "channels_last" else to_channels_first(x)).reshape(3, -1)
    dense = built_dense(features.shape[1], 4, seed=1)
    kernel, bias = dense.get_weights()
    expected = features.astype(np.float64) @ kernel + bias
    conv = dense_to_conv(dense, map_shape, flatten_order, data_format)
    conv_input = x if data_format == "channels_last" else to_channels_first(x)
    output = run_conv(conv, conv_input)
    assert output.shape == ((3, *(1,) * (len(map_shape) - 1), 4) if data_format == "channels_last"
                            else (3, 4, *(1,) * (len(map_shape) - 1)))
    assert_close(output.reshape(3, 4), expected)
    # The kernel in the wrong order gives a model that runs and is wrong.
    if map_shape[-1] > 1:
        wrong = "channels_first" if flatten_order == "channels_last" else "channels_last"
        bad = run_conv(dense_to_conv(dense, map_shape, wrong, data_format), conv_input).reshape(3, 4)
        assert np.abs(bad - expected).max() > 1e-2


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("flatten_order", ["channels_last", "channels_first"])
def test_conv_to_dense_inverts_dense_to_conv(data_format, flatten_order):
    rng = np.random.default_rng(1)
    conv = L.Conv2D(5, (3, 4), data_format=data_format, bias_initializer="glorot_uniform")
    x = rng.normal(size=(2, 3, 4, 6)).astype("float32")
    conv_input = x if data_format == "channels_last" else to_channels_first(x)
    expected = run_conv(conv, conv_input).reshape(2, 5)
    dense = conv_to_dense(conv, flatten_order)
    features = (x if flatten_order == "channels_last" else to_channels_first(x)).reshape(2, -1)
    assert_close(dense(features), expected)
    back = dense_to_conv(dense, (3, 4, 6), flatten_order, data_format)
    np.testing.assert_array_equal(back.get_weights()[0], conv.get_weights()[0])


def test_kernel_reordering_round_trips():
    weights = np.arange(2 * 3 * 4 * 5).reshape(24, 5)
    for order in ("channels_last", "channels_first"):
        kernel = dense_kernel_to_conv_kernel(weights, (2, 3, 4), order)
        assert kernel.shape == (2, 3, 4, 5)
        np.testing.assert_array_equal(conv_kernel_to_dense_kernel(kernel, order), weights)
    # Row (c, h, w) of a channels_first flatten is tap (h, w, c).
    kernel = dense_kernel_to_conv_kernel(weights, (2, 3, 4), "channels_first")
    np.testing.assert_array_equal(kernel[1, 2, 3], weights[3 * 6 + 1 * 3 + 2])


def test_conversion_errors():
    dense = built_dense(12, 3, seed=0)
    with pytest.raises(StructconvError, match="Invalid `weights`"):
        dense_kernel_to_conv_kernel(np.zeros((10, 3)), (2, 2, 3))
    with pytest.raises(StructconvError, match="Invalid `flatten_order`"):
        dense_to_conv(dense, (2, 2, 3), "nchw")
    with pytest.raises(StructconvError, match="Invalid `dense`"):
        dense_to_conv(L.Dense(3), (2, 2, 3))
    with pytest.raises(StructconvError, match="Invalid `data_format`"):
        dense_to_conv(built_dense(12, 3, 0, "softmax"), (2, 2, 3), data_format="channels_first")
    same = L.Conv2D(3, 3, padding="same")
    same.build((None, 3, 3, 1))
    with pytest.raises(StructconvError, match="Invalid `conv`"):
        conv_to_dense(same)


def check_sliding(model, fcn, x_large, stride):
    """Every entry of the map on a larger input is the original model on the window it covers."""
    size = model.inputs[0].shape[1:3]
    output = to_numpy(fcn(x_large))
    rows, cols = output.shape[1:3]
    crops = np.concatenate([
        x_large[:, i * stride:i * stride + size[0], j * stride:j * stride + size[1]]
        for i in range(rows) for j in range(cols)
    ])
    expected = to_numpy(model(crops)).reshape(rows, cols, len(x_large), -1).transpose(2, 0, 1, 3)
    assert_close(output, expected)
    return output


def test_vgg_head_becomes_fully_convolutional():
    """VGG's head, its widths scaled down 8x and 16x (the full 7x7x512 -> 4096 Dense holds 103M weights:
    14 s of the JAX pass, for the same conversion): a 7x7 map, Flatten, Dense, Dropout, the classifier."""
    model = keras.Sequential([
        keras.Input((7, 7, 64)),
        L.Flatten(),
        L.Dense(256, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(0)),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(1)),
    ])
    fcn = fully_convolutional(model)
    first = fcn.layers[1]
    assert isinstance(first, L.Conv2D) and tuple(first.kernel.shape) == (7, 7, 64, 256)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 7, 64)).astype("float32")
    assert_close(to_numpy(fcn(x))[:, 0, 0], to_numpy(model(x)))
    output = check_sliding(model, fcn, rng.normal(size=(1, 8, 9, 64)).astype("float32"), stride=1)
    assert output.shape == (1, 2, 3, 10)


def classifier(data_format):
    keras_format = {"data_format": data_format}
    shape = (10, 10, 2) if data_format == "channels_last" else (2, 10, 10)
    return keras.Sequential([
        keras.Input(shape),
        L.Conv2D(4, 3, activation="relu", **keras_format),
        L.MaxPooling2D(2, **keras_format),
        L.BatchNormalization(axis=-1 if data_format == "channels_last" else 1),
        L.Flatten(),
        L.Dense(6, activation="relu"),
        L.Dense(3),
    ])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_fully_convolutional_classifier(data_format):
    model = classifier(data_format)
    rng = np.random.default_rng(2)
    for layer in model.layers:  # non-trivial normalization statistics
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2, w.shape).astype("float32") for w in layer.get_weights()])
    fcn = fully_convolutional(model)
    x = rng.normal(size=(3, *model.inputs[0].shape[1:])).astype("float32")
    if not stock_runs(lambda: model(x)):
        assert tuple(fcn.compute_output_shape(x.shape)) == (3, 3, 1, 1)
        pytest.skip("the stock channels_first model itself cannot run here (TensorFlow without oneDNN has "
                    "no channels_first convolution on CPU); its conversion is checked in channels_last")
    expected = to_numpy(model(x))
    output = to_numpy(fcn(x))
    assert_close(output.reshape(3, 3), expected)
    if data_format == "channels_last":
        large = check_sliding(model, fcn, rng.normal(size=(2, 16, 14, 2)).astype("float32"), stride=2)
        assert large.shape == (2, 4, 3, 3)
    else:
        large = to_numpy(fcn(rng.normal(size=(2, 2, 16, 14)).astype("float32")))
        assert large.shape == (2, 3, 4, 3)


def test_fully_convolutional_global_pooling():
    model = keras.Sequential([
        keras.Input((6, 6, 3)), L.Conv2D(4, 3), L.GlobalAveragePooling2D(), L.Dense(5), L.Softmax(),
    ])
    fcn = fully_convolutional(model)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    assert_close(to_numpy(fcn(x))[:, 0, 0], to_numpy(model(x)))
    check_sliding(model, fcn, rng.normal(size=(1, 9, 7, 3)).astype("float32"), stride=1)


def test_fully_convolutional_refuses_what_it_cannot_keep_exact():
    dense_first = keras.Sequential([keras.Input((4, 4, 1)), L.Dense(3), L.Flatten(), L.Dense(2)])
    with pytest.raises(StructconvError, match="Dense layers only after Flatten"):
        fully_convolutional(dense_first)
    reshaped = keras.Sequential([keras.Input((4, 4, 1)), L.Flatten(), L.Dense(4), L.Reshape((2, 2)),
                                 L.Flatten(), L.Dense(2)])
    with pytest.raises(StructconvError, match="would not mean the same on a map"):
        fully_convolutional(reshaped)
    softmax_first = keras.Sequential([keras.Input((1, 4, 4)), L.Conv2D(2, 3, data_format="channels_first"),
                                      L.Flatten(), L.Dense(3, activation="softmax")])
    with pytest.raises(StructconvError, match="Invalid `data_format`"):
        fully_convolutional(softmax_first)
    with pytest.raises(StructconvError, match="Invalid `model`"):
        fully_convolutional(L.Dense(3))
