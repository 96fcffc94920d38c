"""`model.export` of structconv models to each format the backend offers (ONNX everywhere, a TensorFlow
SavedModel on TensorFlow and JAX, `torch.export` on PyTorch), with a dynamic batch size: the exported
model, run in its own runtime on a batch size it was not traced with, gives the Keras model's outputs.

The layers use `algorithm="direct"`, "fft" or the default "auto": a graph traced with a symbolic batch size
(torch.export, jax2tf) or for ONNX is planned direct (`ConvProblem.symbolic`), which every exporter can
express.
"""

import keras
import numpy as np
import pytest
from conftest import compiled, to_numpy

from structconv import layers as L
from structconv import parametrizations as P

BACKEND = keras.backend.backend()
FORMATS = {"tensorflow": ["onnx", "tf_saved_model"], "jax": ["onnx", "tf_saved_model"], "torch": ["onnx"]}[
    BACKEND
]
DIRECT = {"algorithm": "direct"}


def parametrized():
    inputs = keras.Input((8, 8, 2))
    parametrization = [P.Mask(np.eye(2, 4)), P.ZeroSum()]
    y = L.Conv2D(4, 3, padding="same", kernel_parametrization=parametrization, **DIRECT)(inputs)
    y = L.Conv2DTranspose(2, 3, strides=2, padding="same", lora_rank=2, **DIRECT)(y)
    return keras.Model(inputs, y)


def rank4():
    """The default algorithm, 16 taps (an FFT candidate were the batch not symbolic)."""
    inputs = keras.Input((4, 4, 4, 4, 2))
    return keras.Model(inputs, L.Conv4D(3, 2, strides=(1, 2, 1, 1), padding="same")(inputs))


def complex_pair():
    """A grouped complex layer in its real-pair form: (real, imag) in, intensity out."""
    inputs = [keras.Input((8, 8, 2)), keras.Input((8, 8, 2))]
    layer = L.ComplexConv2D(4, 3, padding="same", groups=2, kernel_parametrization="unit_modulus", **DIRECT)
    y = layer(tuple(inputs))
    return keras.Model(inputs, L.Intensity()(y))


def fft():
    """algorithm="fft": the exported graph runs direct (ONNX has no FFT that onnxruntime runs; on
    TensorFlow the ONNX export traces with a batch of None, not a symbolic one)."""
    inputs = keras.Input((12, 12, 2))
    y = L.Conv2D(3, 7, padding="same", algorithm="fft")(inputs)
    y = L.Conv2DTranspose(2, 5, strides=2, padding="same", algorithm="fft")(y)
    return keras.Model(inputs, y)


def ranks():
    """Ranks 1, 3 and 5 with the other parametrizations (fixed taps with zero sum, unit norm, non-negative,
    symmetric), padding forms and modes, joined by global pooling
    (on JAX an exported rank-3 convolution is decomposed onto rank 2: jax2onnx converts no 3-D one)."""
    inputs = [keras.Input((16, 2)), keras.Input((6, 6, 6, 2)), keras.Input((4, 4, 4, 4, 4, 1))]
    bayar = [P.FixedTaps({"center": -1.0}), P.ZeroSum()]  # fixed taps, composed
    a = L.Conv1D(3, 5, padding="causal", dilation_rate=2, kernel_parametrization=bayar)(inputs[0])
    b = L.Conv3D(3, 3, strides=(1, 2, 1), padding="same", padding_mode="reflect",
                 kernel_parametrization="non_neg")(inputs[1])
    b = L.Conv3DTranspose(3, 2, strides=(2, 1, 1), padding="same", kernel_parametrization="unit_norm")(b)
    c = L.ConvND(3, 3, rank=5, padding="same", padding_mode="circular", kernel_parametrization="symmetric")(
        inputs[2])
    pooled = [L.GlobalAveragePooling1D()(a), L.GlobalMaxPooling3D()(b), L.GlobalAveragePoolingND(rank=5)(c)]
    return keras.Model(inputs, keras.layers.Add()(pooled))


def network4d():
    """The rest of a 4-D network (issue 15): pooling, upsampling, padding, cropping, depthwise, separable."""
    inputs = keras.Input((4, 4, 4, 4, 2))
    y = L.DepthwiseConv4D(2, depth_multiplier=2, padding="same")(inputs)
    y = L.MaxPooling4D(2)(y)
    y = L.UpSampling4D(2, interpolation="linear")(y)
    y = L.ZeroPadding4D(1)(y)
    y = L.Cropping4D(1)(y)
    y = L.SeparableConv4D(3, 2, padding="same")(y)
    y = L.AveragePooling4D(3, strides=2, padding="same")(y)
    return keras.Model(inputs, L.GlobalMaxPooling4D()(y))


def optics():
    """Free-space propagation between optical elements: the exported graph computes its DFTs as products
    with real cos and sin matrices (ONNX has no complex tensors; onnxruntime runs no complex FFT), and the
    field crosses layers as a (real, imag) pair. Lengths in millimetres: the randomized trainable distance
    (0.5 N(0, 1)) stays a plausible one."""
    inputs = keras.Input((16, 16, 1))
    field = L.PhaseModulation()(inputs)
    field = L.FreeSpacePropagation(5.0, 5e-4, 8e-3, padding=4, band_limit=True)(field)  # the limit cuts
    field = L.ThinLens(50.0, 5e-4, 8e-3)(field)
    field = L.Aperture(0.05, 8e-3)(field)
    field = L.FreeSpacePropagation(1.0, 5e-4, 8e-3, approximation="fresnel", padding=(2, 3),
                                   trainable_distance=True)(field)
    return keras.Model(inputs, L.Intensity()(field))


def complex_network():
    """Complex activations, pooling (max by modulus selects by comparisons in an exported graph),
    normalization and a dense layer on (real, imag) pairs."""
    inputs = keras.Input((8, 8, 2))
    field = L.PhaseModulation()(inputs)
    field = L.ComplexActivation("cardioid")(field)
    field = L.ModReLU()(field)
    field = L.ComplexMaxPooling2D(2)(field)
    field = L.ComplexAveragePooling2D(2, padding="same")(field)
    field = L.ComplexBatchNormalization()(field)
    field = L.ComplexLayerNormalization()(field)
    field = L.ComplexDropout(0.2)(field)
    field = L.ComplexDense(3)(field)
    return keras.Model(inputs, L.Intensity()(field))


MODELS = {"parametrized": parametrized, "rank4": rank4, "complex_pair": complex_pair, "fft": fft,
          "ranks": ranks, "network4d": network4d, "optics": optics, "complex_network": complex_network}


def _inputs(model, batch):
    rng = np.random.default_rng(batch)
    return [rng.standard_normal((batch, *i.shape[1:])).astype("float32") for i in model.inputs]


def _randomized(make):
    model = make()
    rng = np.random.default_rng(1)
    for weight in model.weights:
        weight.assign((0.5 * rng.standard_normal(weight.shape)).astype(weight.dtype))
    # A model is called once before Keras exports it. Compiled on JAX: called eagerly, the larger models
    # compiled each primitive for each batch size, 4-8 s of each test (0.3-0.6 s compiled).
    compiled(model)(_inputs(model, 1))
    return model


@pytest.mark.long
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_model_gives_the_same_outputs(name, fmt, tmp_path):
    model = _randomized(MODELS[name])
    xs = _inputs(model, 3)
    expected = to_numpy(compiled(model)(xs))
    path = str(tmp_path / ("model.onnx" if fmt == "onnx" else "saved_model"))
    model.export(path, format=fmt, verbose=False)
    if fmt == "onnx":
        onnxruntime = pytest.importorskip("onnxruntime", reason="structconv[export] is not installed")
        session = onnxruntime.InferenceSession(path)
        outputs = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)})[0]
    else:
        import tensorflow as tf

        loaded = tf.saved_model.load(path)
        outputs = np.asarray(loaded.serve(xs if len(xs) > 1 else xs[0]))
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max()))


@pytest.mark.skipif(BACKEND != "torch", reason="torch.export exports PyTorch modules")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_torch_export_with_dynamic_batch(name):
    import torch

    model = _randomized(MODELS[name])
    xs = [torch.as_tensor(x) for x in _inputs(model, 2)]
    batch = torch.export.Dim("batch", min=1, max=64)
    inputs, shapes = (xs, [{0: batch}] * len(xs)) if len(xs) > 1 else (xs[0], {0: batch})
    # Keras's `forward(*args)`: the dynamic shapes of `args`.
    program = torch.export.export(model, (inputs,), dynamic_shapes={"args": (shapes,)})
    new = _inputs(model, 5)
    tensors = [torch.as_tensor(x) for x in new]
    outputs = program.module()(tensors if len(tensors) > 1 else tensors[0])
    np.testing.assert_allclose(to_numpy(outputs), to_numpy(model(new)), rtol=1e-5, atol=1e-5)
