"""Story 4: N-dimensional convolution with correct backpropagation.

A 4-D convolutional network (`structconv.layers.Conv4D`) learns the direction in which a blob moves
through a 3-D volume over time. Then the scenario checks what the story needs: autodiff gradients of
a rank-4 convolution against central finite differences in float64, the speed of a direct rank-4
convolution, and a `.keras` round trip in safe mode.
"""

import time

import keras
import numpy as np

from structconv import ops
from structconv.demo import figures
from structconv.demo.autodiff import gradient
from structconv.demo.context import Section
from structconv.demo.moving_blobs import DIRECTIONS, moving_blobs
from structconv.layers import Conv4D

TITLE = "Story 4: N-dimensional convolution with correct gradients"

# (training samples, held-out samples, epochs) per mode: quick is True or False.
_SIZES = {True: (640, 200, 4), False: (2000, 800, 5)}
_FRAMES, _VOLUME, _CLASSES = 6, 8, len(DIRECTIONS)


def build_model(frames=_FRAMES, size=_VOLUME, classes=_CLASSES, seed=0):
    """Strided Conv4D -> Conv4D -> global average pooling over the four axes -> softmax."""

    def init(offset):
        return keras.initializers.GlorotUniform(seed=seed + offset)

    inputs = keras.Input((frames, size, size, size, 1))
    # The strided layer comes first: it needs no input gradient, which XLA computes slowly on CPU
    # for strided convolutions (JAX backend).
    x = Conv4D(8, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(0),
               name="strided_conv4d")(inputs)
    x = Conv4D(16, 3, padding="same", activation="relu", kernel_initializer=init(1))(x)
    # Pooling by Reshape + GlobalAveragePooling1D, not a Lambda, so the model loads in safe mode.
    x = keras.layers.Reshape((-1, 16))(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", kernel_initializer=init(2))(x)
    return keras.Model(inputs, outputs, name="space_time_direction")


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            f"A blob moves for {_FRAMES} time steps through a volume of {_VOLUME} x {_VOLUME} x "
            f"{_VOLUME} voxels; a network of two `Conv4D` layers (time x depth x height x width) "
            "classifies its direction among six (chance 1/6). Then the gradients of a rank-4 "
            "`ops.conv` are checked against finite differences, a rank-4 convolution is timed, and "
            "the model is saved and reloaded."
        ),
    )
    train_count, test_count, epochs = _SIZES[context.quick]

    with context.step("Data: moving blobs in a 4-D space-time volume"):
        sizes = {"frames": _FRAMES, "size": _VOLUME}
        x_train, y_train = moving_blobs(train_count, **sizes, seed=context.seed)
        x_test, y_test = moving_blobs(test_count, **sizes, seed=context.seed + 1)
        context.log(f"    train {x_train.shape}, held out {x_test.shape}, labels {DIRECTIONS}")
        plot_samples(x_test, y_test, context.path("space_time_samples.png"))
    section.figures.append(
        ("Sample inputs: maximum projections of each time step", "space_time_samples.png")
    )

    with context.step("Training a Conv4D classifier"):
        model = build_model(seed=context.seed)
        model.compile(
            optimizer=keras.optimizers.Adam(5e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history = model.fit(
            x_train,
            y_train,
            batch_size=32,
            epochs=epochs,
            validation_data=(x_test, y_test),
            # The samples come in random order already; not shuffling keeps runs reproducible on
            # every backend without seeding each framework (`keras.utils.set_random_seed` would also
            # import TensorFlow, seconds of start-up under JAX and PyTorch).
            shuffle=False,
            verbose=2,
        )
        accuracy = history.history["val_accuracy"][-1]  # the held-out set after the last epoch
        context.log(f"    held-out accuracy: {accuracy:.3f} (chance {1 / _CLASSES:.3f})")
        figures.plot_history(
            history.history, context.path("space_time_training.png"), "Conv4D direction classifier"
        )
        first_kernel = model.get_layer("strided_conv4d").kernel
        plot_filters(first_kernel, context.path("space_time_filters.png"))
    section.add_result("model", f"{model.count_params()} parameters, {epochs} epochs, "
                       f"{train_count} training samples")
    section.add_result(
        "held-out accuracy", f"{accuracy:.3f} on {test_count} samples (chance {1 / _CLASSES:.3f})"
    )
    section.figures.append(("Training curves", "space_time_training.png"))
    section.figures.append(
        ("Learned first-layer filters: the (height, width) slice at the centre depth, for each "
         "time tap", "space_time_filters.png")
    )

    with context.step("Gradient check: autodiff vs central finite differences (float64)"):
        errors = check_gradients(np.random.default_rng(context.seed), directions=1 if context.quick else 3)
        for name, error in errors.items():
            context.log(f"    max relative error, gradient w.r.t. {name}: {error:.2e}")
    section.add_result(
        "gradient check, rank 4, float64 (relative error)",
        ", ".join(f"{name}: {error:.1e}" for name, error in errors.items()),
    )

    with context.step("Speed: direct rank-4 convolution (eager)"):
        milliseconds, gflops, shape = time_conv(repeats=2 if context.quick else 10)
        context.log(f"    {shape}: {milliseconds:.1f} ms per call, {gflops:.2f} GFLOP/s")
    section.add_result(
        f"rank-4 conv forward, {shape}", f"{milliseconds:.1f} ms, {gflops:.2f} GFLOP/s"
    )

    with context.step("Saving to .keras and reloading in safe mode"):
        path = context.path("space_time_model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path, safe_mode=True)
        before, after = (keras.ops.convert_to_numpy(m(x_test[:64])) for m in (model, reloaded))
        difference = float(np.max(np.abs(before - after)))
        context.log(f"    {path}: max difference of predictions after reload {difference:.1e}")
    section.add_result(
        "`.keras` reload (safe mode), max prediction difference", f"{difference:.1e}"
    )
    section.notes.append(
        "The gradient check differentiates "
        "`sum(ops.conv(x, k, strides=2, padding=\"same\", dilation_rate=(2, 1, 1, 1)) * w)` "
        "with the backend's autodiff and compares its derivative along random directions with "
        "central differences; the table shows the largest relative error. The speed is an eager "
        "`ops.conv` call after one warm-up call, the best of the repeats."
    )
    return section


def check_gradients(rng, directions=3, step=1e-3):
    """Relative error of autodiff against central differences, for the input and for the kernel.

    For random directions `v`, `<gradient, v>` is compared with `(f(a + h v) - f(a - h v)) / 2h`;
    this checks every entry of the gradient at once. `f` is linear in each argument, so the central
    difference is exact up to rounding and the error shows float64 round-off only.
    """
    _enable_float64()
    x = rng.normal(size=(2, 5, 6, 5, 6, 3))
    kernel = rng.normal(size=(3, 2, 3, 3, 3, 4))

    def conv(x, kernel):
        return ops.conv(x, kernel, strides=2, padding="same", dilation_rate=(2, 1, 1, 1))

    weights = keras.ops.convert_to_tensor(rng.normal(size=conv(x, kernel).shape))

    def loss(x, kernel):
        return keras.ops.sum(conv(x, kernel) * weights)

    def value(*args):
        return float(keras.ops.convert_to_numpy(loss(*args)))

    arrays = (x, kernel)
    analytic = gradient(loss, *(keras.ops.convert_to_tensor(a) for a in arrays))
    errors = {}
    for index, name in enumerate(("input", "kernel")):
        if analytic[index].dtype != np.float64:
            raise RuntimeError(f"The gradient check ran in {analytic[index].dtype}, not float64.")
        worst = 0.0
        for _ in range(directions):
            direction = rng.normal(size=arrays[index].shape)
            shifted = list(arrays)
            shifted[index] = arrays[index] + step * direction
            upper = value(*shifted)
            shifted[index] = arrays[index] - step * direction
            numeric = (upper - value(*shifted)) / (2 * step)
            exact = float(np.sum(analytic[index] * direction))
            worst = max(worst, abs(exact - numeric) / abs(numeric))
        errors[name] = worst
    return errors


def _enable_float64():
    # JAX computes in float32 unless x64 is on; the CLI sets JAX_ENABLE_X64=1 before JAX loads, and
    # this covers `run_demo` called from Python. Arrays created earlier keep their dtype.
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)


def time_conv(size=16, batch=2, channels=4, filters=8, kernel_size=3, repeats=5):
    """Milliseconds per call (best of `repeats`) and GFLOP/s of a "same" rank-4 convolution."""
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.normal(size=(batch, *(size,) * 4, channels)), "float32")
    kernel = keras.ops.convert_to_tensor(
        rng.normal(size=(*(kernel_size,) * 4, channels, filters)), "float32"
    )
    keras.ops.convert_to_numpy(ops.conv(x, kernel, padding="same", algorithm="direct"))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(ops.conv(x, kernel, padding="same", algorithm="direct"))
        best = min(best, time.perf_counter() - start)
    flops = 2 * batch * size**4 * kernel_size**4 * channels * filters
    shape = f"{batch} x {size}^4 x {channels} -> {filters}, k={kernel_size}"
    return best * 1e3, flops / best / 1e9, shape


def plot_samples(inputs, labels, path, count=3):
    """For a few samples, each time step's maximum projection along depth and along height."""
    frames = inputs.shape[1]
    figure, axes = figures.plt.subplots(
        2 * count, frames, figsize=(1.3 * frames, 1.45 * 2 * count), squeeze=False
    )
    # One sample per motion axis (x, y, z), so every kind of motion appears.
    chosen = [int(np.flatnonzero(labels // 2 == axis)[0]) for axis in range(count)]
    for row, sample in enumerate(chosen):
        volume = inputs[sample, ..., 0]  # (time, depth, height, width)
        for projection, (axis, view) in enumerate(((0, "height x width"), (1, "depth x width"))):
            line = axes[2 * row + projection]
            for t in range(frames):
                line[t].imshow(volume[t].max(axis=axis), cmap="magma", vmin=0, vmax=1)
                line[t].set_xticks([])
                line[t].set_yticks([])
                if row == 0 and projection == 0:
                    line[t].set_title(f"t = {t}", fontsize=9)
            line[0].set_ylabel(f"{DIRECTIONS[labels[sample]]}\n{view}", fontsize=8)
    figure.suptitle("Moving blobs: label = direction of motion (x: width, y: height, z: depth)")
    figures.save(figure, path)


def plot_filters(kernel, path):
    """Each first-layer filter's (height, width) slice at the centre depth, for each time tap."""
    kernel = np.asarray(keras.ops.convert_to_numpy(kernel))  # (t, d, h, w, 1, filters)
    taps, depth, filters = kernel.shape[0], kernel.shape[1], kernel.shape[-1]
    limit = float(np.abs(kernel).max())
    figure, axes = figures.plt.subplots(
        taps, filters, figsize=(1.1 * filters, 1.2 * taps), squeeze=False
    )
    for t in range(taps):
        for f in range(filters):
            axes[t, f].imshow(kernel[t, depth // 2, :, :, 0, f], cmap="RdBu_r", vmin=-limit,
                              vmax=limit)
            axes[t, f].set_xticks([])
            axes[t, f].set_yticks([])
            if t == 0:
                axes[t, f].set_title(f"filter {f}", fontsize=8)
        axes[t, 0].set_ylabel(f"time tap {t}", fontsize=8)
    figure.suptitle("First Conv4D layer: kernel[t, centre depth, :, :] (red > 0 > blue)")
    figures.save(figure, path)
