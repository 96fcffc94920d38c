"""Ranks 1-3: the fixed-rank layers are drop-ins for `keras.layers.ConvXD`/`ConvXDTranspose`.

Each test builds the stock Keras layer and the structconv layer with the same arguments, copies the
Keras weights (`set_weights(ref.get_weights())`, random bias included) and checks identical outputs,
identical weights (shapes, names, order), attributes, positional arguments and
`compute_output_shape`.
"""

import inspect

import keras
import numpy as np
import pytest
import reference
from conftest import stock_or_reference
from layers.helpers import (
    BACKEND,
    NUMPY_ACTIVATIONS,
    add_bias,
    assert_close,
    join_shape,
    set_random_weights,
)

import structconv.layers as sl

DATA_FORMATS = ("channels_last", "channels_first")
# name -> extra arguments; strides and dilation never together (Keras rejects that).
CONV_VARIANTS = {
    "plain": {},
    "strided": {"strides": 2},
    "dilated": {"dilation_rate": 2},
    "grouped": {"groups": 2},
    "per_axis": {"kernel_size": "per_axis", "strides": "per_axis"},
}
SPATIAL = {1: (7,), 2: (6, 7), 3: (5, 6, 5)}
PER_AXIS_KERNEL = {1: (2,), 2: (2, 3), 3: (3, 1, 2)}
PER_AXIS_STRIDES = {1: (2,), 2: (1, 2), 3: (2, 1, 3)}


def _pair(rank, transposed, data_format, kwargs, channels=4, filters=6, seed=0):
    """The Keras layer and the structconv layer, both built, with the same random weights."""
    name = f"Conv{rank}D" + ("Transpose" if transposed else "")
    kwargs = dict(kwargs)
    kernel_size = kwargs.pop("kernel_size", 3)
    if kernel_size == "per_axis":
        kernel_size = PER_AXIS_KERNEL[rank]
    if kwargs.get("strides") == "per_axis":
        kwargs["strides"] = PER_AXIS_STRIDES[rank]
    # Weights are overwritten: a constant initializer spares JAX a random-number compile per shape.
    kwargs.update(data_format=data_format, kernel_initializer="zeros")
    ref = getattr(keras.layers, name)(filters, kernel_size, **kwargs)
    ours = getattr(sl, name)(filters, kernel_size, **kwargs)
    shape = join_shape(2, SPATIAL[rank], channels, data_format)
    set_random_weights(ref, shape, np.random.default_rng(seed))
    ours.build(shape)
    ours.set_weights(ref.get_weights())
    return ref, ours, shape


def _stock_keras_rejects(ref):
    """On TensorFlow, oneDNN rejects stock Keras's own transposed convolution for an even kernel
    with padding="same" and output_padding 0 on some axis (AbortedError: "could not create a
    primitive descriptor"); there the NumPy transcription of Keras's rule is the only reference."""
    if BACKEND != "tensorflow" or not hasattr(ref, "output_padding") or ref.padding != "same":
        return False
    if ref.output_padding is None:
        return False
    return any(op == 0 and k % 2 == 0 for op, k in zip(ref.output_padding, ref.kernel_size))


def _numpy_reference(ref, x):
    """What the stock Keras layer `ref` computes, by the NumPy references."""
    kernel, bias = ref.get_weights()
    if hasattr(ref, "output_padding"):
        expected = reference.keras_conv_transpose_reference(
            x, kernel, ref.strides, ref.padding, ref.output_padding, ref.dilation_rate, ref.data_format
        )
    else:
        spatial = x.shape[1:-1] if ref.data_format == "channels_last" else x.shape[2:]
        pairs = reference.padding_pairs(ref.padding, spatial, ref.kernel_size, ref.strides, ref.dilation_rate)
        expected = reference.conv_reference(
            x, kernel, ref.strides, pairs, ref.dilation_rate, ref.groups, data_format=ref.data_format
        )
    return NUMPY_ACTIVATIONS[ref.activation.__name__](add_bias(expected, bias, ref.data_format))


def _check_outputs(ref, ours, shape, seed=1):
    """`ours` against the stock Keras layer (or the NumPy references where the backend has no kernel for the
    stock layer on this device) and, for transposed layers, also against the NumPy transcription of
    Keras's transposed-convolution rule."""
    x = np.random.default_rng(seed).standard_normal(shape).astype("float32")
    actual = ours(x)
    assert tuple(ours.compute_output_shape(shape)) == tuple(actual.shape)
    if hasattr(ref, "output_padding"):
        assert_close(actual, _numpy_reference(ref, x), rtol=1e-5)
    if not _stock_keras_rejects(ref):
        assert_close(actual, stock_or_reference(lambda: ref(x), lambda: _numpy_reference(ref, x)), rtol=1e-5)


def _check_weights(ref, ours):
    assert [w.name for w in ours.weights] == [w.name for w in ref.weights] == ["kernel", "bias"]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in ref.weights]
    assert tuple(ours.kernel.shape) == tuple(ref.kernel.shape)
    assert [tuple(w.shape) for w in ours.trainable_weights] == [
        tuple(w.shape) for w in ref.trainable_weights
    ]


def _unknown_shapes(shape, data_format):
    """`shape` with an unknown batch, then with every spatial axis unknown as well."""
    rank = len(shape) - 2
    channels = shape[-1] if data_format == "channels_last" else shape[1]
    return [(None, *shape[1:]), join_shape(None, (None,) * rank, channels, data_format)]


def _check_unknown_output_shapes(ref, ours, shape, data_format):
    for unknown in _unknown_shapes(shape, data_format):
        try:
            expected = ref.compute_output_shape(unknown)
        except Exception:  # Keras does not allow this unknown shape: nothing to compare with.
            continue
        assert tuple(ours.compute_output_shape(unknown)) == tuple(expected), unknown


def _cases(variants):
    """`(rank, data_format, padding, variant)`: every variant at every rank, the four combinations
    of data format and padding cycled so that each rank sees all of them (the full product is slow
    on JAX)."""
    combos = [(f, p) for f in DATA_FORMATS for p in ("valid", "same")]
    return [
        (rank, *combos[(index + rank) % len(combos)], variant)
        for rank in (1, 2, 3)
        for index, variant in enumerate(variants)
    ]


@pytest.mark.parametrize("rank, data_format, padding, variant", _cases(CONV_VARIANTS))
def test_conv_matches_keras(rank, data_format, padding, variant):
    ref, ours, shape = _pair(
        rank, False, data_format, {"padding": padding, **CONV_VARIANTS[variant]}
    )
    _check_weights(ref, ours)
    _check_outputs(ref, ours, shape)
    _check_unknown_output_shapes(ref, ours, shape, data_format)


@pytest.mark.parametrize("data_format", DATA_FORMATS)
def test_conv1d_causal_matches_keras(data_format):
    ref, ours, shape = _pair(1, False, data_format, {"padding": "causal", "dilation_rate": 2})
    _check_outputs(ref, ours, shape)
    _check_unknown_output_shapes(ref, ours, shape, data_format)


TRANSPOSE_VARIANTS = {
    "plain": {},
    "strided": {"strides": 2},
    "output_padding": {"strides": 2, "output_padding": 1},
    # Even kernels: "same" with an explicit output_padding puts the odd pad where Keras does.
    "even_kernel_output_padding": {"kernel_size": 4, "strides": 2, "output_padding": 0},
    "even_kernel_output_padding_one": {"kernel_size": 2, "strides": 3, "output_padding": 1},
    "dilated": {"dilation_rate": 2},
    "per_axis": {"kernel_size": "per_axis", "strides": "per_axis"},
}


@pytest.mark.parametrize("rank, data_format, padding, variant", _cases(TRANSPOSE_VARIANTS))
def test_conv_transpose_matches_keras(rank, data_format, padding, variant):
    kwargs = {"padding": padding, **TRANSPOSE_VARIANTS[variant]}
    ref, ours, shape = _pair(rank, True, data_format, kwargs)
    _check_weights(ref, ours)
    _check_outputs(ref, ours, shape)
    _check_unknown_output_shapes(ref, ours, shape, data_format)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_transpose_per_axis_output_padding_matches_keras(rank):
    strides = (3, 2, 2)[:rank]
    output_padding = (2, 0, 1)[:rank]
    kernel_size = (4, 2, 3)[:rank]
    for padding in ("valid", "same"):
        ref, ours, shape = _pair(
            rank,
            True,
            "channels_last",
            {
                "padding": padding,
                "kernel_size": kernel_size,
                "strides": strides,
                "output_padding": output_padding,
            },
        )
        _check_outputs(ref, ours, shape)


@pytest.mark.parametrize("name", ["Conv1D", "Conv2D", "Conv3D"])
def test_attributes_match_keras(name):
    kwargs = {"strides": 2, "padding": "same", "data_format": "channels_first", "groups": 2}
    ref, ours = getattr(keras.layers, name)(4, 3, **kwargs), getattr(sl, name)(4, 3, **kwargs)
    for attribute in (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "groups",
        "use_bias",
    ):
        assert getattr(ours, attribute) == getattr(ref, attribute), attribute


@pytest.mark.parametrize("name", ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"])
def test_transpose_attributes_match_keras(name):
    kwargs = {"strides": 2, "padding": "same", "output_padding": 1, "data_format": "channels_first"}
    ref, ours = getattr(keras.layers, name)(4, 3, **kwargs), getattr(sl, name)(4, 3, **kwargs)
    for attribute in (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "output_padding",
        "data_format",
        "dilation_rate",
        "use_bias",
    ):
        assert getattr(ours, attribute) == getattr(ref, attribute), attribute


def _positional_names(cls):
    return [
        p.name
        for p in inspect.signature(cls).parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]


# A distinct, recognisable value for every positional argument of the Keras classes.
POSITIONAL_VALUES = {
    "filters": 4,
    "kernel_size": 3,
    "strides": 2,
    "padding": "same",
    "output_padding": 1,
    "data_format": "channels_first",
    "dilation_rate": 1,
    "groups": 2,
    "activation": "relu",
    "use_bias": False,
    "kernel_initializer": "ones",
    "bias_initializer": "he_normal",
    "kernel_regularizer": "l2",
    "bias_regularizer": "l1",
    "activity_regularizer": keras.regularizers.L1L2(l1=0.01, l2=0.02),
    "kernel_constraint": "non_neg",
    "bias_constraint": "unit_norm",
}
COMPARED = (
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "output_padding",
    "data_format",
    "dilation_rate",
    "groups",
    "use_bias",
)
SERIALIZED = (
    "activation",
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
)


@pytest.mark.parametrize(
    "name",
    ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"],
)
def test_positional_arguments_match_keras(name):
    """Every positional argument of the Keras class means the same in structconv's: both classes are
    called with the same positional values, in Keras's order (Conv3DTranspose's differs from its
    siblings'), and end up with the same attributes and config entries."""
    names = _positional_names(getattr(keras.layers, name))
    args = [POSITIONAL_VALUES[n] for n in names]
    ref, ours = getattr(keras.layers, name)(*args), getattr(sl, name)(*args)
    for attribute in COMPARED:
        if hasattr(ref, attribute):
            assert getattr(ours, attribute) == getattr(ref, attribute), attribute
    ref_config, our_config = ref.get_config(), ours.get_config()
    for key in SERIALIZED:
        assert our_config[key] == ref_config[key], key


def test_positional_call_matches_keras():
    args = (4, 3, 1, "same", "channels_last", 2, 2, "relu", True, "zeros")
    ref, ours = keras.layers.Conv2D(*args), sl.Conv2D(*args)
    shape = (2, 6, 7, 4)
    set_random_weights(ref, shape, np.random.default_rng(0))
    ours.build(shape)
    ours.set_weights(ref.get_weights())
    _check_outputs(ref, ours, shape)


def test_conv3d_transpose_positional_data_format_matches_keras():
    """Keras's Conv3DTranspose takes `data_format` as its fifth positional argument."""
    args = (4, 2, 2, "same", "channels_first")
    ref, ours = keras.layers.Conv3DTranspose(*args), sl.Conv3DTranspose(*args)
    assert ours.data_format == ref.data_format == "channels_first"


@pytest.mark.parametrize("transposed", [False, True])
def test_from_keras_config(transposed):
    """A stock Keras layer's config loads into the structconv class: the same function."""
    name = "Conv2DTranspose" if transposed else "Conv2D"
    kwargs = {"strides": 2, "padding": "same", "activation": "tanh", "kernel_initializer": "zeros"}
    kwargs.update({"output_padding": 1} if transposed else {"groups": 2})
    ref = getattr(keras.layers, name)(4, 3, **kwargs)
    ours = getattr(sl, name).from_config(ref.get_config())
    shape = (2, 5, 6, 4)
    set_random_weights(ref, shape, np.random.default_rng(0))
    ours.build(shape)
    ours.set_weights(ref.get_weights())
    _check_outputs(ref, ours, shape)


@pytest.mark.parametrize(
    "name, strides",
    [
        ("Conv2D", 1),
        ("Conv2D", 2),
        ("Conv2DTranspose", 2),
        # Rank 3 strided: where the planner may decompose it (JAX's CPU, TensorFlow's without oneDNN), a
        # "same" padding computed at run time keeps the backend's own convolution.
        ("Conv3D", 2),
        ("Conv3DTranspose", 2),
    ],
)
def test_fully_convolutional_model_predicts_on_several_sizes(name, strides):
    """`Input((None, None, C))` and `predict` on images of different sizes: the backend's predict
    function is retraced with unknown spatial sizes (TensorFlow's `reduce_retracing`)."""
    rank = int(name[4])
    models = []
    for module in (keras.layers, sl):
        inputs = keras.Input((*[None] * rank, 2))
        layer = getattr(module, name)(
            3, 3, strides=strides, padding="same", kernel_initializer="zeros"
        )
        models.append(keras.Model(inputs, layer(inputs)))
    ref, ours = models
    set_random_weights(ref.layers[-1], (1, *[6] * rank, 2), np.random.default_rng(0))
    ours.set_weights(ref.get_weights())
    rng = np.random.default_rng(1)
    for size in ((6, 7, 5), (9, 8, 6)):
        x = rng.standard_normal((2, *size[:rank], 2)).astype("float32")
        assert_close(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5)
