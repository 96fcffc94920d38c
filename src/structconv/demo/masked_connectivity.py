"""Story 3: some kernels of a convolution fixed at exactly zero, and not counted as parameters.

A `Conv2D(16, 3)` on 3 input channels has 3 x 16 = 48 kernels of 3x3. Five of them (input channel 0 to
filters 0-4) are to be exactly 0 during and after training. `kernel_parametrization=Mask(connected)` with
a `(3, 16)` connectivity matrix does it in one convolution, with one variable that holds only the free
entries: 387 trainable parameters, where the usual answer (split the input into its channels, three
convolutions, zero kernels as non-trainable weights) has 432, 45 of them non-trainable.

The task is system identification: a known filter bank with the same connectivity (the teacher) filters
white-noise probe images, and the masked layer learns its kernels from the responses. White noise makes
every kernel entry identifiable, so the learned kernels can be compared with the teacher's. After
training, the masked kernels are checked to be exactly 0.
"""

import keras
import numpy as np

from structconv import layers, parametrizations
from structconv.demo import figures
from structconv.demo.context import Section
from structconv.demo.zero_sum_filters import glorot

TITLE = "Story 3: masked connectivity, 5 of 48 kernels exactly zero"

# (training patches, epochs) per mode: quick is True or False.
_SIZES = {True: (512, 6), False: (2048, 12)}
_CHANNELS, _FILTERS, _KERNEL, _PATCH, _BATCH = 3, 16, 3, 16, 32


def connectivity():
    """The (input channel, filter) matrix of the story: 1 = connected, 0 = kernel fixed at zero."""
    connected = np.ones((_CHANNELS, _FILTERS), "int8")
    connected[0, :5] = 0
    return connected


def teacher_kernel(connected, rng):
    """A random kernel with the connectivity `connected`, as the target of the fit."""
    kernel = rng.normal(0.0, 0.4, (_KERNEL, _KERNEL, _CHANNELS, _FILTERS))
    return (kernel * connected).astype("float32")


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            f"`structconv.layers.Conv2D({_FILTERS}, {_KERNEL}, use_bias=False, "
            "kernel_parametrization=Mask(connected))` on 3-channel images, with "
            "`connected[0, :5] = 0`: the kernels from input channel 0 to filters 0-4 are exactly 0 and are "
            "not variables. The layer learns a known filter bank's kernels (same connectivity) from its "
            "responses to white-noise probes, in one convolution."
        ),
    )
    train_count, epochs = _SIZES[context.quick]
    rng = np.random.default_rng(context.seed)
    connected = connectivity()

    with context.step("Data: white-noise probes, and the teacher's responses"):
        x = rng.standard_normal((train_count, _PATCH, _PATCH, _CHANNELS)).astype("float32")
        teacher = teacher_kernel(connected, rng)
        y = np.asarray(keras.ops.convert_to_numpy(keras.ops.conv(x, teacher, padding="valid")))
        context.log(f"    inputs {x.shape}, targets {y.shape}")

    with context.step("Model: one masked Conv2D"):
        conv = layers.Conv2D(_FILTERS, _KERNEL, use_bias=False, name="masked",
                             kernel_parametrization=parametrizations.Mask(connected),
                             kernel_initializer=glorot(context.seed))
        model = keras.Sequential([keras.Input((_PATCH, _PATCH, _CHANNELS)), conv])
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        dense = _KERNEL * _KERNEL * _CHANNELS * _FILTERS
        context.log(f"    weights {[(w.name, tuple(w.shape)) for w in conv.weights]}; "
                    f"{trainable} trainable parameters (dense kernel: {dense})")
        if trainable != _KERNEL * _KERNEL * int(connected.sum()):
            raise RuntimeError(f"{trainable} trainable parameters, not {_KERNEL**2 * int(connected.sum())}")

    with context.step("Training (Adam, then the masked kernels checked)"):
        model.compile(optimizer=keras.optimizers.Adam(3e-2), loss="mse")
        history = model.fit(x, y, batch_size=_BATCH, epochs=epochs, shuffle=False, verbose=0)
        losses = history.history["loss"]
        kernel = np.asarray(keras.ops.convert_to_numpy(conv.kernel))
        masked = ~np.broadcast_to(connected.astype(bool), kernel.shape)
        largest_masked = float(np.abs(kernel[masked]).max())
        error = float(np.abs(kernel - teacher).max() / np.abs(teacher).max())
        context.log(f"    loss {losses[0]:.3g} -> {losses[-1]:.3g}; masked entries: largest |value| "
                    f"{largest_masked!r}; kernel error relative to the teacher {error:.1e}")
        if largest_masked != 0.0:
            raise RuntimeError(f"A masked kernel entry is {largest_masked!r}, not exactly 0.")
        plot_kernels(kernel, connected, context.path("masked_connectivity.png"))

    section.add_result("trainable parameters", f"{trainable} (dense kernel {dense}; the split-per-channel "
                       "workaround: 432, of which 45 non-trainable)")
    weights = ", ".join(f"`{w.name}` {tuple(w.shape)}" for w in conv.weights)
    section.add_result("weights of the layer", weights)
    section.add_result("training loss (MSE), first and last epoch", f"{losses[0]:.3g} -> {losses[-1]:.3g}")
    section.add_result(f"masked entries ({int(masked.sum())}): largest abs(value) after training",
                       repr(largest_masked))
    section.add_result("learned kernel vs the teacher's (max error / max value)", f"{error:.1e}")
    section.figures.append(("The connectivity matrix and the learned 3x3 kernels (masked ones crossed out)",
                            "masked_connectivity.png"))
    section.notes.append(
        "The free variable holds only the unmasked entries and the kernel is gathered from it in the "
        "forward pass, so no optimizer (momentum, weight decay) can move a masked entry: it is not a "
        "variable. A projection for a stock layer exists too, "
        "`keras.layers.Conv2D(16, 3, kernel_constraint=structconv.constraints.Mask(connected))`, but it "
        "keeps all 432 weights as parameters.")
    return section


def plot_kernels(kernel, connected, path):
    """Left: the (input channel, filter) connectivity; right: every 3x3 kernel, masked ones crossed out."""
    figure = figures.plt.figure(figsize=(13, 3.4))
    grid = figure.add_gridspec(_CHANNELS, _FILTERS + 6, wspace=0.1, hspace=0.15)
    matrix = figure.add_subplot(grid[:, :5])
    matrix.imshow(connected, cmap="Greys_r", vmin=-0.3, vmax=1)
    matrix.set_title("connectivity: white connected,\nblack masked (exactly 0)", fontsize=9)
    matrix.set(xlabel="filter", ylabel="input channel")
    matrix.set_yticks(range(_CHANNELS))
    limit = float(np.abs(kernel).max())
    for c in range(_CHANNELS):
        for f in range(_FILTERS):
            axes = figure.add_subplot(grid[c, 6 + f])
            axes.imshow(kernel[:, :, c, f], cmap="RdBu_r", vmin=-limit, vmax=limit)
            if not connected[c, f]:
                axes.plot([-0.5, _KERNEL - 0.5], [-0.5, _KERNEL - 0.5], "k-", lw=0.8)
                axes.plot([-0.5, _KERNEL - 0.5], [_KERNEL - 0.5, -0.5], "k-", lw=0.8)
            axes.set_xticks([])
            axes.set_yticks([])
            if c == 0:
                axes.set_title(f"filter {f}" if f == 0 else str(f), fontsize=7)
            if f == 0:
                axes.set_ylabel(f"input {c}", fontsize=7)
    figure.suptitle("Story 3: Conv2D(16, 3) on 3 channels; the kernels from input channel 0 to filters 0-4 "
                    "fixed at 0")
    figures.save(figure, path)
