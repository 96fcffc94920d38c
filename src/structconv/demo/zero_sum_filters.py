"""Stories 2 and 1: first-layer filters under exact constraints, trained on scikit-learn's digits.

Story 2: every image gets a random brightness offset, three times the signal's range. A 7x7 first layer
whose filters sum to 0 (`kernel_parametrization="zero_sum"`) does not see the offset at all, so it
learns as if there were none; the same layer unconstrained does see it, as a large noise source. Both
are trained the same way, then tested with the brightness shifted by fixed amounts, and the learned
filters are drawn with their sums.

Story 1, in its real form: two filters C and D of one layer under the joint norm
`UnitNorm(axis=-1)`, so that `sqrt(C^2 + D^2) = 1` at every tap (a phase-only complex filter C + iD).
The layer's two outputs are the real and imaginary parts of the filtered image; a classifier reads their
intensity `re^2 + im^2`. After training, the joint norm is checked at every tap.
"""

import keras
import numpy as np

from structconv import layers, parametrizations
from structconv.demo import figures
from structconv.demo.context import Section

TITLE = "Stories 2 and 1: zero-sum filters for brightness robustness, and a joint norm of two filters"

# (training images, test images, epochs) per mode: quick is True or False (None: the rest of the 1797 digits).
_SIZES = {True: (512, 500, 2), False: (1248, None, 8)}
_IMAGE, _FILTERS, _KERNEL, _BATCH = 32, 8, 7, 32
_BRIGHTNESS = 3.0  # offsets uniform in [-B, B]; the images are in [0, 1]
_SHIFTS = (-3.0, -1.5, 0.0, 1.5, 3.0)  # fixed offsets added to the whole test set
_STORY_2 = ("unconstrained", "zero_sum")
_OUTPUTS = (*_STORY_2, "joint_norm")


def bilinear_matrix(size_in, size_out):
    """The (size_out, size_in) matrix of 1-D bilinear interpolation, pixel centres aligned."""
    positions = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), low] += 1 - (positions - low)
    matrix[np.arange(size_out), high] += positions - low
    return matrix


def load_digits(train_count, test_count=None, seed=0):
    """scikit-learn's 8x8 digits in [0, 1], upsampled to 32x32 (so that a 7x7 kernel spans about a stroke),
    shuffled and split; returns `(x_train, y_train, x_test, y_test)`, images `(n, 32, 32, 1)` float32."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    resize = bilinear_matrix(8, _IMAGE)
    images = np.einsum("ij,njk,lk->nil", resize, digits.images[order] / 16.0, resize)[..., None]
    images, labels = images.astype("float32"), digits.target[order].astype("int32")
    test = slice(train_count, None if test_count is None else train_count + test_count)
    return images[:train_count], labels[:train_count], images[test], labels[test]


def glorot(seed):
    """A Glorot-uniform initializer drawn with NumPy, as Keras's `GlorotUniform` would draw it.

    On JAX, Keras's random initializers compile an XLA program for every new shape, which would cost most
    of the quick demo's time on 2 cores.
    """

    def initializer(shape, dtype=None):
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        values = np.random.default_rng(seed).uniform(-limit, limit, shape)
        return values.astype(keras.backend.standardize_dtype(dtype))

    return initializer


def brightness_offsets(count, rng):
    return rng.uniform(-_BRIGHTNESS, _BRIGHTNESS, (count, 1, 1, 1)).astype("float32")


def first_layer(parametrization, seed, name):
    """The story-2 first layer: `Conv2D(8, 7, padding="valid")` with `parametrization`, ReLU.

    "valid": with zero padding the border windows would mix image and padding, and even a zero-sum
    filter would see the offset there.
    """
    return layers.Conv2D(_FILTERS, _KERNEL, activation="relu", kernel_parametrization=parametrization,
                         kernel_initializer=glorot(seed), name=name)


def classifier_head(x, pool, seed, name):
    """`pool` x `pool` average pooling (to 4x4) -> flatten -> Dense(10, softmax)."""
    x = keras.layers.AveragePooling2D(pool)(x)
    x = keras.layers.Flatten()(x)
    return keras.layers.Dense(10, activation="softmax", name=name,
                              kernel_initializer=glorot(seed + 1))(x)


def build_model(seed):
    """The three classifiers, side by side in one model (one compilation on JAX and TensorFlow; their
    weights are separate, so each trains as it would alone).

    Inputs: `shifted`, the brightness-shifted images (story 2), and `plain`, the images as they are
    (story 1). Outputs: `unconstrained` and `zero_sum` (story 2: the same first layer without and with
    `kernel_parametrization="zero_sum"`), and `joint_norm` (story 1: C and D, the two filters of one 7x7
    layer under `UnitNorm(axis=-1)`; the intensity of `x * C + i x * D`, pooled and classified).
    """
    shifted = keras.Input((_IMAGE, _IMAGE, 1), name="shifted")
    plain = keras.Input((_IMAGE, _IMAGE, 1), name="plain")
    outputs = {
        # 26x26 valid outputs, pooled by 6 to 4x4 (the last 2 rows and columns are dropped)
        name: classifier_head(first_layer(parametrization, seed, f"first_{name}")(shifted), 6, seed, name)
        for name, parametrization in (("unconstrained", None), ("zero_sum", "zero_sum"))
    }
    field = layers.Conv2D(2, _KERNEL, padding="same", use_bias=False, name="complex_filter",
                          kernel_parametrization=parametrizations.UnitNorm(axis=-1),
                          kernel_initializer=glorot(seed))(plain)
    intensity = layers.Intensity()((field[..., 0:1], field[..., 1:2]))  # re^2 + im^2
    x = keras.layers.Flatten()(keras.layers.AveragePooling2D(8)(intensity))  # 32x32 "same" -> 4x4
    x = keras.layers.BatchNormalization()(x)  # intensities are squares: their scale varies a lot
    outputs["joint_norm"] = keras.layers.Dense(10, activation="softmax", name="joint_norm",
                                               kernel_initializer=glorot(seed + 1))(x)
    model = keras.Model({"shifted": shifted, "plain": plain}, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss={name: "sparse_categorical_crossentropy" for name in outputs})
    return model


def accuracies(model, shifted, plain, y, batch):
    """Accuracy of each output, per consecutive block of `batch` images (one prediction function)."""
    predicted = model.predict({"shifted": shifted, "plain": plain}, batch_size=batch, verbose=0)
    return {name: (np.argmax(probabilities, axis=-1) == y).reshape(-1, batch).mean(axis=1)
            for name, probabilities in predicted.items()}


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            "**Story 2.** scikit-learn's digits, upsampled to 32x32, each image shifted by a random "
            f"brightness offset in [-{_BRIGHTNESS:g}, {_BRIGHTNESS:g}] (the digits are in [0, 1]). The same "
            f"classifier, a {_KERNEL}x{_KERNEL} `structconv.layers.Conv2D({_FILTERS}, {_KERNEL})` first "
            "layer, is trained unconstrained and with `kernel_parametrization=\"zero_sum\"` (every filter "
            "sums to exactly 0), from the same initial weights, on the same batches. **Story 1.** Two "
            "filters C and D of one layer under `UnitNorm(axis=-1)`: `sqrt(C^2 + D^2) = 1` at every tap, a "
            "phase-only complex filter, read through the intensity of `x * C + i x * D`."
        ),
    )
    train_count, test_count, epochs = _SIZES[context.quick]
    rng = np.random.default_rng(context.seed)
    with context.step("Data: scikit-learn digits, 32x32, random brightness offsets"):
        x_train, y_train, x_test, y_test = load_digits(train_count, test_count, context.seed)
        x_test_shifted = x_test + brightness_offsets(len(x_test), rng)
        context.log(f"    {len(x_train)} training and {len(x_test)} test images")

    with context.step("Model: unconstrained, zero-sum and joint-norm first layers side by side"):
        model = build_model(context.seed)
        joint = model.get_layer("complex_filter")
        joint_before = np.asarray(keras.ops.convert_to_numpy(joint.kernel))

    with context.step(f"Training, {epochs} epochs (fresh brightness offsets every epoch)"):
        curves = {}
        for epoch in range(epochs):
            shifted = x_train + brightness_offsets(len(x_train), rng)
            model.fit({"shifted": shifted, "plain": x_train}, {name: y_train for name in _OUTPUTS},
                      batch_size=_BATCH, epochs=1, shuffle=False, verbose=0)
            for name, value in accuracies(model, x_test_shifted, x_test, y_test, len(x_test)).items():
                curves.setdefault(name, []).append(float(value[0]))
            context.log(f"    epoch {epoch + 1}, test accuracy: "
                        + ", ".join(f"{name} {curve[-1]:.3f}" for name, curve in curves.items()))

    with context.step("Test accuracy under fixed brightness shifts"):
        # All shifts in one prediction call, in blocks of the test set's size: no new compilation.
        stacked = np.concatenate([x_test + shift for shift in _SHIFTS])
        by_shift = accuracies(model, stacked, np.tile(x_test, (len(_SHIFTS), 1, 1, 1)),
                              np.tile(y_test, len(_SHIFTS)), len(x_test))
        for name in _STORY_2:
            pairs = zip(_SHIFTS, by_shift[name])
            context.log(f"    {name}: " + ", ".join(f"shift {s:+g}: {a:.3f}" for s, a in pairs))
        kernels = {name: np.asarray(keras.ops.convert_to_numpy(model.get_layer(f"first_{name}").kernel))
                   for name in _STORY_2}
        sums = {name: kernel.sum(axis=(0, 1)).ravel() for name, kernel in kernels.items()}
        plot_story_2(kernels, sums, curves, by_shift, context.path("zero_sum_filters.png"))
    for name in _STORY_2:
        section.add_result(
            f"{name}: test accuracy per epoch (random offsets)", ", ".join(f"{a:.3f}" for a in curves[name]))
    for name in _STORY_2:
        section.add_result(
            f"{name}: test accuracy at brightness shift {', '.join(f'{s:+g}' for s in _SHIFTS)}",
            ", ".join(f"{a:.3f}" for a in by_shift[name]))
    for name in _STORY_2:
        section.add_result(f"{name}: largest abs(sum of a filter) after training",
                           f"{np.abs(sums[name]).max():.1e}")
    section.figures.append(
        ("Story 2: the learned 7x7 first-layer filters with their sums, and the test accuracy under "
         "brightness shifts", "zero_sum_filters.png"))

    with context.step("Story 1: the joint norm sqrt(C^2 + D^2) = 1, checked at every tap"):
        kernel = np.asarray(keras.ops.convert_to_numpy(joint.kernel))  # (7, 7, 1, 2): C and D
        modulus = np.sqrt(kernel[..., 0].astype("float64") ** 2 + kernel[..., 1].astype("float64") ** 2)
        deviation = float(np.abs(modulus - 1.0).max())
        moved = float(np.abs(kernel - joint_before).max())
        context.log(f"    max |sqrt(C^2 + D^2) - 1| over the {modulus.size} taps: {deviation:.1e}; "
                    f"the filters moved by up to {moved:.2f}")
        if deviation > 1e-5:
            raise RuntimeError(f"The joint norm does not hold after training: {deviation:.1e}")
        plot_story_1(kernel, context.path("joint_norm_filters.png"))
    section.add_result("joint norm (story 1): test accuracy per epoch",
                       ", ".join(f"{a:.3f}" for a in curves["joint_norm"]))
    section.add_result(f"joint norm: max abs(sqrt(C^2 + D^2) - 1) over {modulus.size} taps, after training",
                       f"{deviation:.1e} (filters moved by up to {moved:.2f})")
    section.figures.append(
        ("Story 1: the learned C and D, their joint modulus (1 everywhere) and the phase atan2(D, C)",
         "joint_norm_filters.png"))
    section.notes.append(
        "With padding \"valid\" a zero-sum filter's response does not change when a constant is added to "
        "the image, so the zero-sum model's accuracy is the same at every brightness shift; the "
        "unconstrained model's is not. `benchmarks/constraints.py` compares this with the alternatives "
        "(an L1 penalty on the sum, a post-step projection, the difference-layer workaround) and times "
        "them: docs/constraints-experiment.md.")
    return section


def plot_story_2(kernels, sums, curves, by_shift, path):
    names = list(kernels)
    figure = figures.plt.figure(figsize=(12, 5.2))
    grid = figure.add_gridspec(len(names), _FILTERS + 5, wspace=0.15, hspace=0.5)
    for row, name in enumerate(names):
        kernel = kernels[name][:, :, 0, :]
        limit = float(np.abs(kernel).max())
        for f in range(_FILTERS):
            axes = figure.add_subplot(grid[row, f])
            axes.imshow(kernel[..., f], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes.set_xticks([])
            axes.set_yticks([])
            axes.set_title(f"sum {sums[name][f]:.0e}", fontsize=7)
        figure.axes[row * _FILTERS].set_ylabel(name, fontsize=9)
    curve_axes = figure.add_subplot(grid[0, _FILTERS + 1:])
    shift_axes = figure.add_subplot(grid[1, _FILTERS + 1:])
    for name in names:
        curve_axes.plot(range(1, len(curves[name]) + 1), curves[name], "o-", label=name)
        shift_axes.plot(_SHIFTS, by_shift[name], "s-", label=name)
    curve_axes.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.02))
    curve_axes.xaxis.set_major_locator(figures.MaxNLocator(integer=True))
    shift_axes.set(xlabel="brightness shift of the test set", ylabel="test accuracy", ylim=(0, 1.02))
    for axes in (curve_axes, shift_axes):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle("Story 2: 7x7 first-layer filters (red > 0 > blue), unconstrained and zero-sum")
    figures.save(figure, path)


def plot_story_1(kernel, path):
    c, d = kernel[:, :, 0, 0], kernel[:, :, 0, 1]
    panels = (("C (real)", c, "RdBu_r", (-1, 1)), ("D (imaginary)", d, "RdBu_r", (-1, 1)),
              ("sqrt(C^2 + D^2)", np.sqrt(c.astype("float64") ** 2 + d ** 2), "viridis", (0, 1.2)),
              ("phase atan2(D, C)", np.arctan2(d, c), "twilight", (-np.pi, np.pi)))
    figure, axes = figures.plt.subplots(1, 4, figsize=(11, 3))
    for ax, (title, image, cmap, (low, high)) in zip(axes, panels):
        shown = ax.imshow(image, cmap=cmap, vmin=low, vmax=high)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        figure.colorbar(shown, ax=ax, fraction=0.046)
    figure.suptitle("Story 1: two filters of one layer under UnitNorm(axis=-1), after training")
    figures.save(figure, path)
