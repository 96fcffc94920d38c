"""Matplotlib set-up shared by the demo scenarios: a file-only backend and training curves."""

import matplotlib

matplotlib.use("Agg")  # files only: the demo must run without a display.

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def save(figure, path):
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def plot_history(history, path, title):
    """Accuracy and loss per epoch, training and validation, from a Keras `History.history` dict."""
    figure, (accuracy_axes, loss_axes) = plt.subplots(1, 2, figsize=(9, 3.4))
    epochs = range(1, len(history["loss"]) + 1)
    for axes, metric in ((accuracy_axes, "accuracy"), (loss_axes, "loss")):
        axes.plot(epochs, history[metric], "o-", label="training")
        if f"val_{metric}" in history:
            axes.plot(epochs, history[f"val_{metric}"], "s--", label="held out")
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
    accuracy_axes.set_ylim(0, 1.02)
    accuracy_axes.legend()
    figure.suptitle(title)
    save(figure, path)
