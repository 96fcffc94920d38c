"""Story 1: a phase-only optical classifier.

An image modulates a learned phase (a spatial light modulator), passes through a phase-only complex filter
(`|C + iD| = 1` at every tap, held exactly by `UnitModulus`), and a detector measures the intensity, which
is pooled and classified with a softmax. The scenario trains it on scikit-learn's handwritten digits (8x8,
ten classes; the data ships inside scikit-learn), checks that every kernel tap still has modulus 1 after
training, plots the learned phases and (full mode) reloads the saved model in safe mode.
"""

import keras
import numpy as np

from structconv.demo import figures
from structconv.demo.context import Section
from structconv.initializers import ComplexInitializer
from structconv.layers import ComplexConv2D, Intensity, PhaseModulation
from structconv.parametrizations import UnitModulus

TITLE = "Story 1: a phase-only optical classifier"

# (training samples, epochs) per mode: quick is True or False. 384 digits are always held out. Whole
# batches of 32 only: on JAX a last, smaller batch would compile the training step a second time.
_SIZES = {True: (704, 4), False: (1408, 20)}
_HELD_OUT, _CLASSES, _FILTERS, _KERNEL, _BATCH = 384, 10, 8, 5, 32


def build_model(filters=_FILTERS, kernel_size=_KERNEL, seed=0):
    """Phase modulation -> phase-only complex convolution -> intensity -> average pooling -> softmax."""
    inputs = keras.Input((8, 8, 1))
    field = PhaseModulation(name="modulator")(inputs)  # a flat phase to start with
    field = ComplexConv2D(
        filters, kernel_size, padding="same", use_bias=False, kernel_parametrization=UnitModulus(),
        kernel_initializer=ComplexInitializer(seed=seed), name="phase_only_filter",
    )(field)
    intensity = Intensity(name="detector")(field)
    # The detector's gain: the field adds up to kernel_size^2 unit-modulus taps, so the intensity can reach
    # kernel_size^4; scaled, the softmax starts unsaturated.
    intensity = keras.layers.Rescaling(1.0 / kernel_size**2, name="gain")(intensity)
    pooled = keras.layers.AveragePooling2D(2)(intensity)
    features = keras.layers.Flatten()(pooled)
    outputs = keras.layers.Dense(
        _CLASSES, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1)
    )(features)
    return keras.Model(inputs, outputs, name="phase_only_optics")


def load_digits(seed=0):
    """scikit-learn's 1,797 digits as images in [0, 1] of shape (8, 8, 1), shuffled, and their labels."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    images = (data.images[order] / 16.0).astype("float32")[..., None]
    return images, data.target[order].astype("int32")


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            "An 8x8 digit modulates a learned phase (`PhaseModulation`), is convolved with "
            f"{_FILTERS} phase-only complex {_KERNEL}x{_KERNEL} filters (`ComplexConv2D` with "
            "`kernel_parametrization=UnitModulus()`: `sqrt(C^2 + D^2) = 1` at every tap, one trainable "
            "phase per tap) and detected as intensity (`Intensity`), which is average-pooled and "
            "classified by a softmax. No hand-written four-way bookkeeping of real and imaginary parts."
        ),
    )
    train_count, epochs = _SIZES[context.quick]

    with context.step("Data: scikit-learn's handwritten digits"):
        images, labels = load_digits(context.seed)
        x_train, y_train = images[:train_count], labels[:train_count]
        x_test, y_test = images[-_HELD_OUT:], labels[-_HELD_OUT:]
        context.log(f"    train {x_train.shape}, held out {x_test.shape}, {_CLASSES} classes")

    with context.step("Training the phase-only classifier"):
        model = build_model(seed=context.seed)
        model.compile(
            optimizer=keras.optimizers.Adam(0.03),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        lens = model.get_layer("phase_only_filter")
        before = _kernel(lens)
        history = model.fit(
            x_train, y_train, batch_size=_BATCH, epochs=epochs, validation_data=(x_test, y_test),
            shuffle=False, verbose=2,
        )
        accuracy = history.history["val_accuracy"][-1]
        context.log(f"    held-out accuracy: {accuracy:.3f} (chance {1 / _CLASSES:.3f})")
        figures.plot_history(history.history, context.path("optics_training.png"),
                             "Phase-only optical classifier")
    phases = int(np.prod(lens.free_kernel.shape))
    section.add_result("model", f"{model.count_params()} parameters ({phases} kernel phases, one per tap), "
                       f"{epochs} epochs, {train_count} training digits")
    section.add_result("held-out accuracy",
                       f"{accuracy:.3f} on {_HELD_OUT} digits (chance {1 / _CLASSES:.3f})")
    section.figures.append(("Training curves", "optics_training.png"))

    with context.step("Checking that every kernel tap still has modulus 1"):
        after = _kernel(lens)
        deviation = float(np.abs(np.abs(after) - 1.0).max())
        moved = float(np.abs(np.angle(after * np.conj(before))).max())
        context.log(f"    max deviation of |kernel| from 1 over {after.size} taps: {deviation:.1e} "
                    f"(the phases moved by up to {moved:.2f} rad)")
        if deviation > 1e-5:
            raise RuntimeError(f"The kernel left the unit circle: max | |k| - 1 | = {deviation:.1e}.")
        plot_phases(after, keras.ops.convert_to_numpy(model.get_layer("modulator").phase),
                    context.path("optics_phases.png"))
    section.add_result("max deviation of \\|kernel\\| from 1 after training",
                       f"{deviation:.1e} over {after.size} taps (phases moved up to {moved:.2f} rad)")
    section.figures.append(("Learned phases: the modulator and each phase-only filter", "optics_phases.png"))

    if context.quick:
        # Saving imports TensorFlow under every backend (Keras's serializer checks for its types): seconds.
        section.notes.append(
            "The `.keras` round trip runs in the full demo (and in tests/complex/test_saving.py)."
        )
    else:
        with context.step("Saving to .keras and reloading in safe mode"):
            path = context.path("phase_only_optics.keras")
            model.save(path)
            reloaded = keras.saving.load_model(path, safe_mode=True)
            before_reload, after_reload = (m.predict(x_test, verbose=0) for m in (model, reloaded))
            difference = float(np.max(np.abs(before_reload - after_reload)))
            context.log(f"    {path}: max difference of predictions after reload {difference:.1e}")
        section.add_result("`.keras` reload (safe mode), max prediction difference", f"{difference:.1e}")
    section.notes.append(
        "The model in a few lines: `PhaseModulation()` -> `ComplexConv2D(8, 5, padding=\"same\", "
        "kernel_parametrization=UnitModulus())` -> `Intensity()` -> `Rescaling(1 / 25)` (the detector's "
        "gain) -> `AveragePooling2D(2)` -> `Dense(10, activation=\"softmax\")`. The complex convolution "
        "runs as one real convolution with "
        "doubled channels (`method=\"auto\"`), as precise as four separate real convolutions."
    )
    return section


def _kernel(layer):
    """The layer's complex kernel as one NumPy complex128 array `(*kernel_size, in, filters)`."""
    real, imag = (np.asarray(keras.ops.convert_to_numpy(part), np.float64) for part in layer.kernel)
    return real + 1j * imag


def plot_phases(kernel, modulator, path):
    """The modulator's phase map and each filter's phases, on a cyclic colour map."""
    filters = kernel.shape[-1]
    figure, axes = figures.plt.subplots(1, filters + 1, figsize=(1.5 * (filters + 1), 1.9), squeeze=False)
    axes = axes[0]
    wrapped = np.angle(np.exp(1j * modulator[..., 0]))
    images = [("modulator", wrapped)]
    images += [(f"filter {f}", np.angle(kernel[:, :, 0, f])) for f in range(filters)]
    for axis, (name, phase) in zip(axes, images):
        shown = axis.imshow(phase, cmap="twilight", vmin=-np.pi, vmax=np.pi)
        axis.set_title(name, fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.colorbar(shown, ax=list(axes), fraction=0.02, pad=0.01, label="phase (rad)")
    figure.suptitle("Learned phases (|kernel| = 1 at every tap)", fontsize=10)
    figures.save(figure, path)
