"""Story 1, continued: a diffractive optical network classifies digits with light alone.

A digit's amplitude enters a stack of learned phase masks (`PhaseModulation`) separated by free space
(`FreeSpacePropagation`, the angular spectrum method with zero padding against wrap-around); ten detector
regions in the last plane read the intensity, and the brightest one is the class (Lin et al., "All-optical
machine learning using diffractive deep neural networks", Science 2018). The only trainable numbers are
the mask phases: no electronic layer. The scenario trains it on scikit-learn's digits and plots the masks,
the light in every plane for one digit, and the detector signals.
"""

import keras
import numpy as np

from structconv.demo import figures
from structconv.demo.context import Section
from structconv.demo.phase_only_optics import load_digits
from structconv.layers import FreeSpacePropagation, Intensity, PhaseModulation

TITLE = "Story 1, continued: a diffractive network (phase masks and free space) classifies digits"

# A terahertz set-up as in Lin et al.: 0.75 mm light, 0.4 mm mask pixels, 3 cm between planes.
WAVELENGTH, PITCH, SPACING = 0.75e-3, 0.4e-3, 30e-3
_PLANE, _UPSAMPLE, _MASKS, _CLASSES, _BATCH, _HELD_OUT = 40, 3, 3, 10, 32, 384
_SIZES = {True: (640, 5), False: (1408, 25)}  # (training digits, epochs)
_TEMPERATURE = 10.0  # softmax of the detectors' shares of the light, sharpened


def detector_masks(plane=_PLANE, size=4):
    """Ten square detectors in rows of 3, 4 and 3 around the centre, as a `(plane * plane, 10)` matrix."""
    centre, step = plane // 2, 2 * size
    rows = [(-step, (-step, 0, step)), (0, (-1.5 * step, -0.5 * step, 0.5 * step, 1.5 * step)),
            (step, (-step, 0, step))]
    masks = np.zeros((_CLASSES, plane, plane), "float32")
    index = 0
    for dy, offsets in rows:
        for dx in offsets:
            top, left = int(centre + dy - size / 2), int(centre + dx - size / 2)
            masks[index, top:top + size, left:left + size] = 1.0
            index += 1
    return masks


def encode(images):
    """8x8 digits as amplitudes on the input plane: upsampled and centred, `(n, plane, plane, 1)`."""
    big = np.kron(images[..., 0], np.ones((_UPSAMPLE, _UPSAMPLE), "float32"))
    pad = (_PLANE - big.shape[1]) // 2
    after = _PLANE - big.shape[1] - pad
    return np.pad(big, ((0, 0), (pad, after), (pad, after)))[..., None]


def build_model(seed=0):
    """`_MASKS` x (phase mask -> free space) -> intensity -> detector shares -> softmax; and a probe model
    that returns the intensity in every plane."""
    inputs = keras.Input((_PLANE, _PLANE, 1))
    field, planes = inputs, []
    for index in range(_MASKS):
        initializer = keras.initializers.RandomUniform(-np.pi, np.pi, seed=seed + index)
        field = PhaseModulation(phase_initializer=initializer, name=f"mask_{index + 1}")(field)
        field = FreeSpacePropagation(SPACING, WAVELENGTH, PITCH, padding=_PLANE // 2,
                                     name=f"free_space_{index + 1}")(field)
        planes.append(Intensity(name=f"intensity_{index + 1}")(field))
    detectors = keras.layers.Dense(_CLASSES, use_bias=False, trainable=False, name="detectors")
    signals = detectors(keras.layers.Flatten()(planes[-1]))
    detectors.set_weights([detector_masks().reshape(_CLASSES, -1).T])
    def shares(s):  # each detector's share of the detected light, sharpened for the softmax
        return _TEMPERATURE * s / (keras.ops.sum(s, axis=-1, keepdims=True) + 1e-6)

    shares = keras.layers.Lambda(shares, name="shares")(signals)
    outputs = keras.layers.Softmax()(shares)
    return keras.Model(inputs, outputs, name="diffractive_network"), keras.Model(inputs, [*planes, signals])


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            f"An 8x8 digit, upsampled to a {_PLANE}x{_PLANE} amplitude pattern, passes {_MASKS} learned "
            f"phase masks (`PhaseModulation`), each followed by {SPACING * 1e3:.0f} mm of free space "
            f"(`FreeSpacePropagation`: angular spectrum, {WAVELENGTH * 1e3} mm light, "
            f"{PITCH * 1e3} mm pixels, zero padding against wrap-around). Ten detector regions read the "
            "intensity (`Intensity`) of the last plane; the class is the brightest detector. Only the mask "
            "phases are trained."
        ),
    )
    train_count, epochs = _SIZES[context.quick]
    with context.step("Data: scikit-learn's digits on the input plane"):
        images, labels = load_digits(context.seed)
        fields = encode(images)
        x_train, y_train = fields[:train_count], labels[:train_count]
        x_test, y_test = fields[-_HELD_OUT:], labels[-_HELD_OUT:]
    with context.step("Training the phase masks"):
        keras.utils.set_random_seed(context.seed)
        model, probe = build_model(context.seed)
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x_train, y_train, batch_size=_BATCH, epochs=epochs,
                            validation_data=(x_test, y_test), shuffle=False, verbose=2)
        accuracy = history.history["val_accuracy"][-1]
        context.log(f"    held-out accuracy: {accuracy:.3f} (chance {1 / _CLASSES:.3f})")
        figures.plot_history(history.history, context.path("diffractive_training.png"), "Diffractive network")
    with context.step("Light in each plane, and the detectors"):
        # A direct call: `predict` would trace one more `tf.function` on TensorFlow, which warned of
        # retracing after the demo's other models had traced theirs.
        *planes, signals = (keras.ops.convert_to_numpy(p) for p in probe(x_test, training=False))
        total = planes[-1].reshape(len(x_test), -1).sum(axis=1)
        on_detectors = float(np.mean(signals.sum(axis=1) / total))
        masks = [keras.ops.convert_to_numpy(model.get_layer(f"mask_{i + 1}").phase)[..., 0]
                 for i in range(_MASKS)]
        plot_masks(masks, context.path("diffractive_masks.png"))
        plot_planes(x_test, planes, signals, y_test, context.path("diffractive_planes.png"))
    phases = _MASKS * _PLANE * _PLANE
    section.add_result("model", f"{_MASKS} phase masks of {_PLANE}x{_PLANE} = {phases} phases (the only "
                       f"trainable numbers), {epochs} epochs, {train_count} training digits")
    section.add_result("held-out accuracy",
                       f"{accuracy:.3f} on {_HELD_OUT} digits (chance {1 / _CLASSES:.3f})")
    section.add_result("share of the last plane's light on the detectors",
                       f"{on_detectors:.2f} (held-out mean)")
    section.figures += [("Training curves", "diffractive_training.png"),
                        ("The learned phase masks", "diffractive_masks.png"),
                        ("The light in each plane for held-out digits, and the detector signals",
                         "diffractive_planes.png")]
    section.notes.append(
        "The model in a few lines: `for i in range(3): field = PhaseModulation()(field); field = "
        "FreeSpacePropagation(30e-3, 0.75e-3, 0.4e-3, padding=20)(field)`, then `Intensity()`, a fixed "
        "`Dense` whose columns are the ten detector regions, and a softmax of the detectors' shares of the "
        "light. Each propagation is two FFTs of the zero-padded 80x80 field."
    )
    return section


def plot_masks(masks, path):
    figure, axes = figures.plt.subplots(1, len(masks), figsize=(2.6 * len(masks), 2.6), squeeze=False)
    for index, (axis, phase) in enumerate(zip(axes[0], masks)):
        shown = axis.imshow(np.angle(np.exp(1j * phase)), cmap="twilight", vmin=-np.pi, vmax=np.pi)
        axis.set_title(f"mask {index + 1}", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.colorbar(shown, ax=list(axes[0]), fraction=0.02, pad=0.01, label="phase (rad)")
    figures.save(figure, path)


def plot_planes(fields, planes, signals, labels, path, examples=3):
    """Per example: the input amplitude, the intensity after each propagation (detectors outlined on the
    last), and the ten detector signals."""
    columns = len(planes) + 2
    figure, axes = figures.plt.subplots(examples, columns, figsize=(2.1 * columns, 2.4 * examples),
                                        squeeze=False)
    outline = detector_masks().sum(axis=0)
    for row in range(examples):
        panels = [("input amplitude", fields[row, ..., 0])]
        panels += [(f"after free space {i + 1}", plane[row, ..., 0]) for i, plane in enumerate(planes)]
        for column, (title, image) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(image, cmap="inferno")
            if column == len(panels) - 1:
                axis.contour(outline, levels=[0.5], colors="cyan", linewidths=0.6)
            axis.set_title(title, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
        bars = axes[row, -1]
        bars.bar(range(_CLASSES), signals[row] / signals[row].sum(),
                 color=["tab:green" if k == labels[row] else "tab:gray" for k in range(_CLASSES)])
        bars.set_xticks(range(_CLASSES))
        bars.tick_params(labelsize=7)
        bars.set_title(f"detectors (digit {labels[row]})", fontsize=8)
    figures.save(figure, path)
