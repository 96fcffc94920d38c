"""Story 4, a whole 4-D network: a U-Net that segments the moving blob in space-time volumes.

Each sample holds two Gaussian blobs in a 3-D volume over time: one moves, one stays put. The target is
the moving blob's voxels at every time step, so a voxel-wise threshold cannot solve the task: the network
has to compare time steps. The model is a small 4-D U-Net: `Conv4D` and `MaxPooling4D` down,
`UpSampling4D` up, a skip connection, all from `structconv.layers`.
"""

import keras
import numpy as np

from structconv.demo import figures
from structconv.demo.context import Section
from structconv.demo.moving_blobs import moving_blobs
from structconv.layers import Conv4D, MaxPooling4D, UpSampling4D

TITLE = "Story 4: a 4-D U-Net segments the moving blob"

# (training samples, held-out samples, epochs) per mode: quick is True or False. The quick mode only runs
# the network end to end: at 384 samples and 4 epochs it had not yet learned the moving blob either (held-out
# IoU 0.00-0.32, under the input threshold's 0.35) and took 30-84 s of the quick demo (a 2-core VM shared by
# two demos).
_SIZES = {True: (128, 64, 2), False: (1536, 256, 8)}
_FRAMES, _VOLUME, _NOISE = 8, 8, 0.15
_THRESHOLD = 0.4  # of the noiseless blob, for the target mask


def moving_and_static_blobs(count, frames=_FRAMES, size=_VOLUME, noise=_NOISE, seed=0):
    """Inputs `(count, frames, size, size, size, 1)` with a moving and a static blob plus noise, and the
    target mask of the moving blob (float32 0/1, same shape).

    >>> inputs, masks = moving_and_static_blobs(2, frames=4, size=6)
    >>> inputs.shape, masks.shape, sorted(set(np.unique(masks)) - {0.0, 1.0})
    ((2, 4, 6, 6, 6, 1), (2, 4, 6, 6, 6, 1), [])
    """
    moving, _ = moving_blobs(count, frames=frames, size=size, noise=0.0, seed=seed)
    rng = np.random.default_rng(seed + 10_000)
    grid = np.arange(size, dtype=np.float64)
    centres = rng.uniform(1.0, size - 2.0, (count, 3))
    widths = rng.uniform(0.9, 1.4, count)
    depth, height, width = (
        np.exp(-((grid - centres[:, axis, None]) ** 2) / (2 * widths[:, None] ** 2)) for axis in range(3)
    )
    static = depth[:, :, None, None] * height[:, None, :, None] * width[:, None, None, :]
    inputs = moving + static[:, None, ..., None] + rng.normal(0.0, noise, moving.shape)
    masks = (moving > _THRESHOLD).astype("float32")
    return inputs.astype("float32"), masks


def build_unet(frames=_FRAMES, size=_VOLUME, seed=0):
    """Conv4D -> MaxPooling4D -> Conv4D -> UpSampling4D, concatenated with the skip, -> Conv4D -> sigmoid."""

    def init(offset):
        return keras.initializers.GlorotUniform(seed=seed + offset)

    inputs = keras.Input((frames, size, size, size, 1))
    skip = Conv4D(4, 3, padding="same", activation="relu", kernel_initializer=init(0))(inputs)
    x = MaxPooling4D(2)(skip)
    x = Conv4D(8, 3, padding="same", activation="relu", kernel_initializer=init(1))(x)
    x = UpSampling4D(2)(x)
    x = keras.layers.Concatenate()([x, skip])
    x = Conv4D(4, 3, padding="same", activation="relu", kernel_initializer=init(2))(x)
    outputs = Conv4D(1, 1, activation="sigmoid", kernel_initializer=init(3))(x)
    return keras.Model(inputs, outputs, name="space_time_unet")


def bce_plus_dice(truth, prediction):
    """Cross-entropy plus Dice loss: the Dice term keeps a mask of a few percent of the voxels from being
    learned as "everywhere background"."""
    return keras.losses.binary_crossentropy(truth, prediction) + keras.losses.dice(truth, prediction)


def intersection_over_union(predicted, truth):
    """IoU of two boolean arrays, over everything."""
    union = np.logical_or(predicted, truth).sum()
    return float(np.logical_and(predicted, truth).sum() / union) if union else 1.0


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            f"Two blobs in a {_VOLUME}^3 volume over {_FRAMES} time steps, one moving and one static, with "
            "noise; a 4-D U-Net (`Conv4D`, `MaxPooling4D`, `UpSampling4D`, a skip connection) marks the "
            "voxels of the moving one. A threshold on the input cannot tell the two apart (its IoU is "
            "shown for comparison): the network has to look across time."
        ),
    )
    train_count, test_count, epochs = _SIZES[context.quick]
    with context.step("Data: a moving and a static blob per space-time volume"):
        x_train, y_train = moving_and_static_blobs(train_count, seed=context.seed)
        x_test, y_test = moving_and_static_blobs(test_count, seed=context.seed + 1)
        context.log(f"    train {x_train.shape}, held out {x_test.shape}, "
                    f"{y_test.mean():.1%} of held-out voxels are the moving blob")

    with context.step("Training a 4-D U-Net"):
        model = build_unet(seed=context.seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=bce_plus_dice)
        model.fit(x_train, y_train, batch_size=16, epochs=epochs, shuffle=False, verbose=2)
        predicted = np.asarray(keras.ops.convert_to_numpy(model.predict(x_test, verbose=0))) > 0.5
    truth = y_test > 0.5
    iou = intersection_over_union(predicted, truth)
    # The best a voxel-wise threshold on the input does, over a range of thresholds.
    baseline = max(intersection_over_union(x_test > t, truth) for t in np.linspace(0.2, 0.9, 15))
    context.log(f"    held-out IoU of the moving blob: {iou:.3f} (best input threshold: {baseline:.3f})")
    section.add_result("model", f"{model.count_params()} parameters, {epochs} epochs, "
                       f"{train_count} training samples")
    section.add_result("held-out IoU of the moving blob", f"{iou:.3f} on {test_count} samples")
    section.add_result("best voxel-wise threshold of the input, IoU", f"{baseline:.3f}")

    plot_prediction(x_test, truth, predicted, context.path("space_time_unet.png"))
    section.figures.append(
        ("A held-out sample: input, truth and prediction, maximum projections along depth per time step",
         "space_time_unet.png")
    )
    return section


def plot_prediction(inputs, truth, predicted, path, sample=0):
    """Rows: input, true mask, predicted mask; columns: time steps; each a projection along depth."""
    frames = inputs.shape[1]
    figure, axes = figures.plt.subplots(3, frames, figsize=(1.3 * frames, 4.3), squeeze=False)
    rows = (("input", inputs[sample, ..., 0], "magma"), ("truth", truth[sample, ..., 0], "gray"),
            ("prediction", predicted[sample, ..., 0], "gray"))
    for row, (name, volume, colours) in enumerate(rows):
        for t in range(frames):
            axes[row, t].imshow(volume[t].max(axis=0), cmap=colours, vmin=0, vmax=1)
            axes[row, t].set_xticks([])
            axes[row, t].set_yticks([])
            if row == 0:
                axes[row, t].set_title(f"t = {t}", fontsize=9)
        axes[row, 0].set_ylabel(name, fontsize=9)
    figure.suptitle("4-D U-Net: the moving blob, not the static one (max over depth)")
    figures.save(figure, path)
