"""Story 5: why each layer outputs the shape it does, and a classifier made fully convolutional.

First the model of the story (28x28 MNIST, `Conv2D(32, 7, strides=3)` -> `Conv2D(64, 5, strides=2)` ->
`Flatten` -> `Dense`) is explained by `structconv.shapes.summary`: per-axis arithmetic, named kernel axes,
parameters, and the window diagram that shows which input the second layer drops. Then a small classifier
trained on scikit-learn's 8x8 digits becomes fully convolutional (`structconv.shapes.fully_convolutional`):
identical outputs on 8x8 digits, and a map of class scores on a 16x16 image of four tiled digits.
"""

import keras
import numpy as np

from structconv.demo import figures
from structconv.demo.context import Section
from structconv.shapes import fully_convolutional, receptive_field, summary
from structconv.shapes.command import diagrams_text
from structconv.shapes.model_graph import graph_of
from structconv.shapes.receptive_field_plot import plot_receptive_field
from structconv.shapes.table import format_shape, table_text

TITLE = "Story 5: why a layer outputs what it does, and a fully convolutional classifier"

STORY_LAYERS = (
    ("Conv2D", dict(filters=32, kernel_size=7, strides=3, use_bias=False)),
    ("Conv2D", dict(filters=64, kernel_size=5, strides=2, use_bias=False)),
    ("Flatten", {}),
    ("Dense", dict(units=200, use_bias=False)),
    ("Dense", dict(units=150, use_bias=False)),
    ("Dense", dict(units=10, use_bias=False)),
)
# Training epochs per mode: quick is True or False.
_EPOCHS = {True: 4, False: 20}


def story_layers():
    """The story's layers. Only their shapes are explained, so their weights start at zero: a random draw
    would cost JAX one compilation per kernel shape, for numbers nobody reads."""
    layers = []
    for name, kwargs in STORY_LAYERS:
        if name != "Flatten":
            kwargs = {**kwargs, "kernel_initializer": "zeros"}
        layers.append(getattr(keras.layers, name)(**kwargs))
    return layers


def build_classifier(seed=0):
    """Two valid 3x3 convolutions and a 2x2 pooling take an 8x8 digit to a 2x2x32 map, then Dense layers.

    The kernels start Glorot-uniform, as Keras's default, but drawn by NumPy: on JAX a Keras random
    initializer compiles one program per kernel shape, about half a second each on two cores.
    """
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, activation="relu", kernel_initializer="zeros"),
        keras.layers.Conv2D(32, 3, activation="relu", kernel_initializer="zeros"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu", kernel_initializer="zeros"),
        keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros"),
    ], name="digits_classifier")
    rng = np.random.default_rng(seed)
    weights = []
    for weight in model.get_weights():
        if weight.ndim == 1:  # biases stay at zero
            weights.append(weight)
            continue
        receptive = int(np.prod(weight.shape[:-2]))
        limit = np.sqrt(6 / (receptive * (weight.shape[-2] + weight.shape[-1])))
        weights.append(rng.uniform(-limit, limit, weight.shape).astype(weight.dtype))
    model.set_weights(weights)
    return model


def load_digits_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    split = 1400
    return (images[:split], digits.target[:split]), (images[split:], digits.target[split:])


def tile(images):
    """Four 8x8 images as one 16x16 image, in reading order."""
    top = np.concatenate([images[0], images[1]], axis=1)
    bottom = np.concatenate([images[2], images[3]], axis=1)
    return np.concatenate([top, bottom], axis=0)


def run(context):
    section = Section(
        title=TITLE,
        summary=(
            "User story 5: a person expected 8192 inputs to the first Dense layer of their MNIST model and "
            "got 256. `structconv.shapes.summary` (and `structconv shapes` on the command line) shows why, "
            "layer by layer. Then a classifier of 8x8 digits is turned into a fully convolutional model by "
            "`structconv.shapes.fully_convolutional` (the Dense layers become convolutions with the weights "
            "reordered) and slides over a larger image."
        ),
    )

    with context.step("Story 5's model explained"):
        rows = summary(story_layers(), input_shape=(28, 28, 1), print_table=False)
        table = table_text(rows, title="Story 5: input (28, 28, 1)", width=132)
        diagrams = diagrams_text(rows[:2])
        context.log(table)
        context.log(diagrams)
    shapes = ", ".join(format_shape(row["output_shape"]) for row in rows)
    section.add_result("story 5 output shapes", shapes)
    section.add_result("inputs to the first Dense layer", f"{rows[2]['output_shape'][-1]} (not 8192)")
    section.add_result("input rows/columns the second convolution drops", "; ".join(rows[1]["dropped"]))
    section.notes.append(
        "The table and the window diagrams, as `structconv shapes --input 28,28,1 \"Conv2D(32, 7, "
        "strides=3, use_bias=False)\" \"Conv2D(64, 5, strides=2, use_bias=False)\" Flatten "
        "\"Dense(200, use_bias=False)\" ... --diagram` prints them:\n\n```\n" + table + "\n" + diagrams
        + "\n```"
    )

    with context.step("Which pixels the second convolution sees"):
        layers = story_layers()
        field = receptive_field(layers[:2], input_shape=(28, 28, 1))
        region = field.region((1, 0))
        # Rows after the last output's region reach no output of the model.
        unseen = list(range(field.region((1, 1))[0][1] + 1, 28))
        plot_receptive_field(graph_of(layers[:2], (28, 28, 1)),
                             context.path("shape_explainer_receptive_field.png"), position=(1, 0))
        context.log(f"    receptive field of the second convolution: {field}; output (1, 0) sees rows "
                    f"{region[0]} and columns {region[1]}")
    section.add_result(
        "receptive field of the second convolution",
        f"{field.size[0]} x {field.size[1]} pixels, one output every {field.jump[0]} pixels, the first "
        f"centred on pixel {field.start}; output (1, 0) sees rows {list(region[0])} and columns "
        f"{list(region[1])}; rows and columns {unseen} reach no output",
    )
    section.figures.append((
        "The 28x28 input region that output (1, 0) of the second convolution sees, and along the height the "
        "positions of each layer it depends on (`structconv shapes ... --plot FILE.png --position 1,0`)",
        "shape_explainer_receptive_field.png",
    ))

    with context.step("Training a small classifier on scikit-learn's 8x8 digits"):
        (x_train, y_train), (x_test, y_test) = load_digits_data()
        model = build_classifier(seed=context.seed)
        model.compile(keras.optimizers.Adam(5e-3), "sparse_categorical_crossentropy")
        # Digits come in no particular order; not shuffling keeps runs reproducible on every backend.
        model.fit(x_train, y_train, batch_size=32, epochs=_EPOCHS[context.quick], shuffle=False, verbose=0)
        # predict: one compiled program (eager calls compile op by op on JAX).
        original = model.predict(x_test, batch_size=len(x_test), verbose=0)
        accuracy = float(np.mean(original.argmax(-1) == y_test))
        context.log(f"    held-out accuracy {accuracy:.3f} on {len(x_test)} digits")
    section.add_result("digits classifier", f"{model.count_params()} parameters, held-out accuracy "
                       f"{accuracy:.3f} on {len(x_test)} digits")

    with context.step("Fully convolutional: the same outputs on 8x8, a class map on 16x16"):
        fcn = fully_convolutional(model)
        converted = fcn.predict(x_test, batch_size=len(x_test), verbose=0)[:, 0, 0]
        same_size = float(np.max(np.abs(original - converted)))
        right = original.argmax(-1) == y_test
        # The first correctly classified test digit of each class shown (any digit when none is).
        chosen = [int(np.flatnonzero((y_test == digit) & right)[0]) if np.any((y_test == digit) & right)
                  else int(np.flatnonzero(y_test == digit)[0]) for digit in (3, 1, 4, 7)]
        image = tile(x_test[chosen])
        scores = fcn.predict(image[None], verbose=0)[0]  # (5, 5, 10): one map entry per 2 pixels
        # The four corners of the map read exactly the four 8x8 tiles.
        corners = scores[[0, 0, 4, 4], [0, 4, 0, 4]]
        corner_difference = float(np.max(np.abs(corners - original[chosen])))
        classes = scores.argmax(-1)
        context.log(f"    8x8 inputs: max |fully convolutional - original| = {same_size:.1e}")
        context.log(f"    16x16 image of digits {[int(y_test[i]) for i in chosen]}: class map "
                    f"{scores.shape[:2]}, corners {classes[[0, 0, 4, 4], [0, 4, 0, 4]].tolist()}, "
                    f"max difference from the digits alone {corner_difference:.1e}")
        fcn_rows = summary(fcn, input_shape=(16, 16, 1), print_table=False)
        fcn_table = table_text(fcn_rows, title="Fully convolutional on (16, 16, 1)", width=132)
        plot_class_map(image, scores, context.path("shape_explainer_class_map.png"))
    section.add_result("8x8 digits: max difference, fully convolutional vs original",
                       f"{same_size:.1e} over {len(x_test)} digits")
    section.add_result(
        "16x16 image of 4 digits",
        f"class map {format_shape((None, *scores.shape))}; corner classes "
        f"{classes[[0, 0, 4, 4], [0, 4, 0, 4]].tolist()} for digits {[int(y_test[i]) for i in chosen]}; "
        f"max difference from each digit alone {corner_difference:.1e}",
    )
    section.figures.append((
        "A 16x16 image of four test digits and the fully convolutional classifier's 5x5 class map (one "
        "entry per 2 pixels; the corners see exactly the four digits)",
        "shape_explainer_class_map.png",
    ))
    section.notes.append("The converted model on the 16x16 image:\n\n```\n" + fcn_table + "\n```")
    return section


def plot_class_map(image, scores, path):
    """The tiled image, and the class map with each entry's most likely digit and its probability."""
    figure, (left, right) = figures.plt.subplots(1, 2, figsize=(8.4, 4))
    left.imshow(image[..., 0], cmap="gray_r")
    left.set_title("input: 4 digits, 16 x 16")
    right.imshow(scores.max(-1), cmap="viridis", vmin=0, vmax=1)
    size = scores.shape[0]
    for i in range(size):
        for j in range(size):
            corner = i in (0, size - 1) and j in (0, size - 1)
            right.text(j, i, str(int(scores[i, j].argmax())), ha="center", va="center",
                       color="black" if scores[i, j].max() > 0.6 else "white",
                       fontsize=14 if corner else 10, fontweight="bold" if corner else "normal")
    right.set_title("class map (digit; colour = probability)")
    for axes in (left, right):
        axes.set_xticks([])
        axes.set_yticks([])
    figures.save(figure, path)
