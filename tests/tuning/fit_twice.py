"""A small model around one structconv `Conv2D`, fitted for one epoch and then two: what measured planning
times inside `fit`, and that later epochs time nothing."""

import keras
import numpy as np

from structconv import layers
from structconv.tuning import autotune


def fit_twice(size, channels, filters, kernel_size):
    """Fits Input -> `Conv2D(filters, kernel_size, padding="same")` -> pooling -> Dense on 8 random items
    of `(size, size, channels)` (batch 4), one epoch and then two. Returns the layer, the float32 inputs,
    and how many problems measuring timed in the first epoch and in the two after it."""
    autotune.reset_statistics()
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((size, size, channels)),
                              layers.Conv2D(filters, kernel_size, padding="same"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = rng.standard_normal((8, size, size, channels)).astype("float32"), rng.standard_normal((8, 1))
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    first = autotune.statistics()["problems"]
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    return model.layers[0], x, first, autotune.statistics()["problems"] - first
