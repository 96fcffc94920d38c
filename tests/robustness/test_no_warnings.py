"""A short `fit` of each kind of structconv layer adds no warning to those of the same fit of a stock Keras
convolution: no Python warning and no framework log warning (TensorFlow warns through its logger).

The stock model is the baseline because Keras itself warns on some stacks (Keras 3.15 on PyTorch with
NumPy 2.4: "__array__ implementation doesn't accept a copy keyword", from Keras's own tensor conversion).
"""

import logging
import re
import warnings

import keras
import numpy as np
import pytest

from structconv import layers as L
from structconv import parametrizations as P


def _single(make, shape):
    def model():
        inputs = keras.Input(shape)
        return keras.Model(inputs, make()(inputs))

    return model


def _complex(make, shape):
    """A (real, imag) pair in, the intensity out."""
    def model():
        inputs = [keras.Input(shape), keras.Input(shape)]
        return keras.Model(inputs, L.Intensity()(make()(tuple(inputs))))

    return model


KINDS = {
    **{f"conv_rank{r}": _single(lambda r=r: L.ConvND(2, 3, rank=r, padding="same"), (4,) * r + (2,))
       for r in (1, 2, 3, 4)},
    **{f"transpose_rank{r}": _single(lambda r=r: L.ConvNDTranspose(2, 2, rank=r, strides=2), (3,) * r + (2,))
       for r in (1, 2, 3, 4)},
    "grouped": _single(lambda: L.Conv2D(4, 3, groups=2, padding="same", padding_mode="reflect"), (6, 6, 4)),
    "fft": _single(lambda: L.Conv2D(2, 5, padding="same", algorithm="fft"), (8, 8, 2)),
    "fft_transpose": _single(lambda: L.Conv2DTranspose(2, 5, strides=2, algorithm="fft"), (6, 6, 2)),
    "parametrized": _single(lambda: L.Conv2D(3, 3, kernel_parametrization=[P.ZeroSum(), P.UnitNorm()]),
                            (6, 6, 2)),
    "masked_lora": _single(lambda: L.Conv2D(3, 3, kernel_parametrization=P.Mask(np.eye(2, 3)), lora_rank=2),
                           (6, 6, 2)),
    "complex": _complex(lambda: L.ComplexConv2D(2, 3), (6, 6, 2)),
    "complex_fft": _complex(lambda: L.ComplexConv2D(2, 5, algorithm="fft"), (8, 8, 2)),
    "phase_modulation": _complex(lambda: L.PhaseModulation(), (6, 6, 2)),
}


# TensorFlow's notice of a `tf.function` traced 5 times in a row: it counts the functions of every model
# this process has built (each test builds new ones), whatever the layers.
_RETRACING = re.compile(r"out of the last \d+ calls to .* triggered tf.function retracing")


def _fit_messages(model, caplog):
    """The warnings and warning logs of two epochs of `fit` and a `predict`."""
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, *i.shape[1:])).astype("float32") for i in model.inputs]
    xs = xs[0] if len(xs) == 1 else xs
    y = rng.standard_normal((4, *model.output_shape[1:])).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        model.fit(xs, y, batch_size=2, epochs=2, verbose=0)
        model.predict(xs, verbose=0)
    messages = [str(w.message) for w in caught]
    messages += [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return {message for message in messages if not _RETRACING.search(message)}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fit_warns_no_more_than_stock_keras(kind, caplog):
    ours = _fit_messages(KINDS[kind](), caplog)
    inputs = keras.Input((6, 6, 2))
    stock = _fit_messages(keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)), caplog)
    assert ours <= stock, ours - stock
