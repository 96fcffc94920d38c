"""A model holding every structconv layer and parametrization, and a script that saves or loads it.

`test_saving.py` uses `build_model`, `randomize` and `inputs` in-process, and runs this file as a script to
save under one backend and load under another (the backend is fixed when Keras starts):

    python saving_worker.py save MODEL.keras OUTPUTS.npz   # build, randomize, save; write inputs and outputs
    python saving_worker.py load MODEL.keras OUTPUTS.npz   # load (safe_mode=True), run on the saved inputs

Importing the module does nothing.
"""

import sys

import numpy as np

# Kernel (3, 3, 2, 2): 2 input channels, 2 filters; whole kernels 0 -> 1 not connected.
CONNECTED = np.array([[1, 0], [1, 1]], "int8")
BATCH = 2


def parametrizations():
    """name -> parametrization: every class, a registry name, a list, a nested composition."""
    from structconv import parametrizations as P

    full_mask = (np.random.default_rng(7).random((3, 3, 2, 2)) > 0.35).astype("int8")
    return {
        "zero_sum": P.ZeroSum(),
        "zero_sum_over_inputs": P.ZeroSum(axis=(0, 1, 2)),
        "fixed_sum": P.FixedSum(1.0),
        "fixed_taps": P.FixedTaps([((0, 2), 0.5), ((2, 2, 1, 0), -0.25)]),
        "bayar": [P.FixedTaps({"center": -1.0}), P.ZeroSum()],
        "unit_norm": P.UnitNorm(),
        "unit_norm_joint": P.UnitNorm(axis=-1),
        "non_neg": P.NonNeg(),
        "mask": P.Mask(CONNECTED),
        "mask_full": P.Mask(full_mask),
        "symmetric": P.Symmetric((0, 1)),
        "registry_name": "zero_sum",
        "compose": P.Compose([P.ZeroSum(), P.UnitNorm()]),
        "nested": [P.Mask(CONNECTED), [P.NonNeg(), P.Symmetric(0)]],
    }


INPUT_SHAPES = {"x1": (9, 2), "x2": (6, 6, 2), "y2": (6, 6, 2), "x3": (5, 5, 5, 2), "x4": (4, 4, 4, 4, 2)}


def build_model():
    import keras

    from structconv import layers
    from structconv import parametrizations as P

    inputs = {name: keras.Input(shape, name=name) for name, shape in INPUT_SHAPES.items()}
    x1, x2, y2, x3, x4 = (inputs[n] for n in INPUT_SHAPES)
    outputs = {}
    for name, parametrization in parametrizations().items():
        outputs[f"conv_{name}"] = layers.Conv2D(
            2, 3, padding="same", kernel_parametrization=parametrization, name=f"conv_{name}"
        )(x2)
    outputs["transpose_zero_sum"] = layers.Conv2DTranspose(
        2, 3, strides=2, kernel_parametrization="zero_sum", name="transpose_zero_sum"
    )(x2)
    outputs["conv1d"] = layers.Conv1D(3, 3, padding="causal", dilation_rate=2, name="conv1d")(x1)
    outputs["conv1d_transpose"] = layers.Conv1DTranspose(2, 3, strides=2, name="conv1d_transpose")(x1)
    outputs["conv2d_fft"] = layers.Conv2D(
        2, 5, padding="same", padding_mode="reflect", algorithm="fft", name="conv2d_fft"
    )(x2)
    outputs["conv2d_groups"] = layers.Conv2D(
        2, 3, padding=((1, 0), "full"), groups=2, padding_mode="circular", name="conv2d_groups"
    )(x2)
    outputs["conv3d"] = layers.Conv3D(2, 2, strides=(2, 1, 1), name="conv3d")(x3)
    outputs["conv3d_transpose"] = layers.Conv3DTranspose(2, 2, strides=2, padding="same", name="conv3d_t")(x3)
    outputs["conv4d"] = layers.Conv4D(
        3, 2, padding="same", kernel_parametrization="zero_sum", name="conv4d"
    )(x4)
    outputs["convnd_rank4"] = layers.ConvND(2, 3, rank=4, strides=2, name="convnd_rank4")(x4)
    outputs["conv4d_transpose"] = layers.Conv4DTranspose(2, 2, strides=2, name="conv4d_transpose")(x4)
    outputs["convnd_transpose"] = layers.ConvNDTranspose(
        2, 2, rank=3, output_padding=1, strides=2, name="convnd_transpose"
    )(x3)
    field = layers.PhaseModulation(name="phase")(x2)
    field = layers.ComplexConv2D(
        2, 3, padding="same", kernel_parametrization=P.UnitModulus(), name="complex_unit_modulus"
    )(field)
    outputs["intensity"] = layers.Intensity(name="intensity")(field)
    real, imag = layers.ComplexConv2D(2, 3, method="gauss", name="complex_pair")((x2, y2))
    outputs["complex_real"], outputs["complex_imag"] = real, imag
    real, imag = layers.ComplexConvND(
        2, 2, rank=3, kernel_parametrization=P.UnitNorm(axis=-1), name="complex_nd"
    )((x3, x3))
    outputs["complex_nd_real"] = real
    # The rest of an N-D network (rank 4).
    outputs["max_pool_nd"] = layers.MaxPoolingND(2, rank=4, name="max_pool_nd")(x4)
    outputs["avg_pool_nd"] = layers.AveragePoolingND(3, strides=1, padding="same", rank=4,
                                                     name="avg_pool_nd")(x4)
    outputs["global_max_nd"] = layers.GlobalMaxPoolingND(rank=4, name="global_max_nd")(x4)
    outputs["global_avg_nd"] = layers.GlobalAveragePoolingND(rank=4, keepdims=True, name="global_avg_nd")(x4)
    outputs["upsampling_nd"] = layers.UpSamplingND((2, 1, 1, 2), interpolation="linear",
                                                   name="upsampling_nd")(x4)
    outputs["zero_padding_nd"] = layers.ZeroPaddingND(1, rank=4, name="zero_padding_nd")(x4)
    outputs["cropping_nd"] = layers.CroppingND(1, rank=4, name="cropping_nd")(x4)
    # Cropping2D's default differs from CroppingND's (Keras's: none), so it is more than a rank alias.
    outputs["cropping2d"] = layers.Cropping2D(((1, 0), (0, 2)), name="cropping2d")(x2)
    outputs["depthwise_nd"] = layers.DepthwiseConvND((2, 2, 2, 2), padding="same", depth_multiplier=2,
                                                     name="depthwise_nd")(x4)
    outputs["separable_nd"] = layers.SeparableConvND(3, (2, 2, 2, 2), padding="same", name="separable_nd")(x4)
    # Optics and complex networks.
    field = layers.Aperture(2.0, 1.0, name="aperture")((x2, y2))
    field = layers.ThinLens(0.05, 0.5e-6, 10e-6, name="thin_lens")(field)
    field = layers.FreeSpacePropagation(1e-3, 0.5e-6, 4e-6, padding=2, name="propagation")(field)
    field = layers.ComplexBatchNormalization(name="complex_batch_norm")(field)
    field = layers.ComplexLayerNormalization(name="complex_layer_norm")(field)
    field = layers.ModReLU(name="mod_relu")(field)
    field = layers.ComplexActivation("cardioid", name="complex_activation")(field)
    field = layers.ComplexDropout(0.5, name="complex_dropout")(field)
    field = layers.ComplexMaxPooling(2, rank=2, name="complex_max_pool")(field)
    field = layers.ComplexAveragePooling(1, rank=2, name="complex_avg_pool")(field)
    field = layers.ComplexConvNDTranspose(2, 2, rank=2, strides=2, name="complex_transpose")(field)
    real, imag = layers.ComplexDense(3, name="complex_dense")(field)
    outputs["complex_dense_real"], outputs["complex_dense_imag"] = real, imag
    return keras.Model(inputs, outputs)


def randomize(model, seed=0):
    """Every variable random (not its initial value); free variables give kernels on each constraint. A
    complex batch normalization's moving variances stay positive and its covariance smaller than them (a
    valid 2x2 covariance: random ones would whiten by the root of a negative number)."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        value = rng.standard_normal(w.shape).astype("float32")
        name = w.path.rsplit("/", 1)[-1]
        if name in ("moving_vrr", "moving_vii"):
            value = 1.0 + np.abs(value)
        elif name == "moving_vri":
            value = 0.4 * np.tanh(value)
        values.append(value)
    model.set_weights(values)


def inputs(seed=1):
    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal((BATCH, *shape)).astype("float32") for n, shape in INPUT_SHAPES.items()}


def outputs_of(model, data):
    """The model's outputs on `data` (a dict of NumPy arrays). JAX runs the model as one compiled program:
    eagerly, each of its many small ops compiles on its own (11.6 s against 1.8 s on the 2-core VM)."""
    import keras

    outputs = model.predict_on_batch(data) if keras.backend.backend() == "jax" else model(data)
    return {name: np.asarray(keras.ops.convert_to_numpy(y)) for name, y in outputs.items()}


def main(argv):
    import keras

    import structconv.layers  # noqa: F401 (registers the classes for safe-mode loading)

    command, model_path, arrays_path = argv
    if command == "save":
        keras.utils.set_random_seed(0)
        model = build_model()
        randomize(model)
        data = inputs()
        model.save(model_path)
        np.savez(arrays_path, **{f"input/{k}": v for k, v in data.items()},
                 **{f"output/{k}": v for k, v in outputs_of(model, data).items()})
    elif command == "load":
        saved = np.load(arrays_path)
        data = {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("input/")}
        model = keras.saving.load_model(model_path, safe_mode=True)
        np.savez(arrays_path.replace(".npz", f".{keras.backend.backend()}.npz"),
                 **{f"output/{k}": v for k, v in outputs_of(model, data).items()})
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
