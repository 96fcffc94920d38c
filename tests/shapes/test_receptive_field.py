"""Receptive fields against brute force: the input positions with a non-zero gradient of one output.

With positive weights, positive inputs and no activation (average pooling standing in for max pooling) an
output's gradient is a sum of positive products, one per path from an input position: it is non-zero
exactly at the positions the output depends on, so their bounding box must equal `region(position)`.
"""

import random

import keras
import numpy as np
import pytest
from conftest import autodiff_gradients

from structconv import config
from structconv.errors import StructconvError
from structconv.shapes import receptive_field
from structconv.shapes.spec import layer_from_spec
from structconv.shapes.spec_summary import spec_rows

PADDINGS = ("valid", "same", "full", "causal", 1, (0, 2), (2, 1))


def axis_padding(rng, rank):
    entries = [rng.choice(PADDINGS) for _ in range(rank)]
    return entries[0] if rng.random() < 0.4 or rank == 1 and isinstance(entries[0], str) else tuple(entries)


def random_spec(rng, rank):
    """One layer spec of a random family, with random arguments."""
    def tuple_of(values):
        return values[0] if rank == 1 else tuple(values)

    family = rng.choice(["conv", "conv", "transpose", "pool", "upsample", "pad", "crop", "depthwise",
                         "separable"] if rank <= 2 else ["conv", "conv", "transpose", "pool", "upsample",
                                                          "pad", "crop"] if rank == 3 else
                        ["conv", "conv", "transpose"])
    kernel = tuple_of([rng.randint(1, 3) for _ in range(rank)])
    strides = tuple_of([rng.randint(1, 2) for _ in range(rank)])
    dilation = tuple_of([rng.randint(1, 2) for _ in range(rank)])
    suffix = f"{rank}D" if rank <= 3 else "ND"
    conv = f"Conv{rank}D" if rank <= 4 else "ConvND"
    if family == "conv":
        return f"{conv}(2, {kernel}, strides={strides}, padding={axis_padding(rng, rank)!r}, " \
               f"dilation_rate={dilation})"
    if family == "transpose":  # structconv's: every padding form, dilation with strides
        return f"{conv}Transpose(2, {kernel}, strides={strides}, padding={axis_padding(rng, rank)!r}, " \
               f"dilation_rate={dilation})"
    if family == "pool":
        pool = tuple_of([rng.randint(2, 3) for _ in range(rank)])
        return f"AveragePooling{suffix}({pool}, strides={strides}, padding={rng.choice(['valid', 'same'])!r})"
    if family == "upsample":
        size = tuple_of([rng.randint(1, 3) for _ in range(rank)])
        if rank == 2 and rng.random() < 0.5:  # Keras's UpSampling2D is the one with an interpolation
            return f"UpSampling2D({size}, interpolation='bilinear')"
        return f"UpSampling{suffix}({size})"
    if family == "pad":
        pairs = tuple(tuple(rng.sample(range(3), 2)) for _ in range(rank))
        return f"ZeroPadding{suffix}({pairs[0] if rank == 1 else pairs})"
    if family == "crop":
        pairs = tuple((rng.randint(0, 1), rng.randint(0, 1)) for _ in range(rank))
        return f"Cropping{suffix}({pairs[0] if rank == 1 else pairs})"
    # Keras's depthwise layers: no strides with dilation (TensorFlow refuses them together).
    if rng.random() < 0.5:
        dilation = 1
    else:
        strides = 1
    if family == "depthwise":
        return f"DepthwiseConv{suffix}({kernel}, strides={strides}, dilation_rate={dilation}, " \
               f"padding={rng.choice(['valid', 'same'])!r})"
    return f"SeparableConv{suffix}(2, {kernel}, strides={strides}, dilation_rate={dilation}, " \
           f"padding={rng.choice(['valid', 'same'])!r})"


def random_chain(rng, rank, input_shape, layers):
    """Specs that keep every axis at 2 or more (redrawn until they do)."""
    specs = []
    while len(specs) < layers:
        candidate = random_spec(rng, rank)
        try:
            rows = spec_rows([*specs, candidate], input_shape, receptive_field=False)
        except StructconvError:
            continue
        spatial = rows[-1]["output_shape"][1:-1]
        if min(spatial) >= 2 and max(spatial) <= 40:
            specs.append(candidate)
    return specs


def positive_layer(text):
    """The spec's layer with positive weights (all kernels ones, no bias)."""
    layer = layer_from_spec(text)
    config = layer.get_config()
    for key in ("kernel_initializer", "depthwise_initializer", "pointwise_initializer"):
        if key in config:
            config[key] = "ones"
    if "use_bias" in config:
        config["use_bias"] = False
    return type(layer).from_config(config)


@pytest.fixture(autouse=True)
def direct_convolutions():
    """The direct algorithm only ("auto" never runs FFT over the memory budget): the brute force reads exact
    zeros of the gradient, which an FFT returns as rounding noise."""
    budget = config.fft_memory_budget()
    config.set_fft_memory_budget(1)
    yield
    config.set_fft_memory_budget(budget)


def brute_force_regions(model, positions):
    """Per output position, the bounding box (per spatial axis) of the input positions with a non-zero
    gradient of the sum of that output's channels."""
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(0.5, 1.0, (1, *shape))
    regions = []
    for position in positions:
        def function(inputs, position=position):
            return keras.ops.sum(model(inputs)[(0, *position)])

        (gradient,) = autodiff_gradients(function, x)
        touched = np.abs(gradient[0]).sum(-1) > 0
        if not touched.any():
            regions.append(None)  # an output on padding depends on nothing
            continue
        boxes = []
        for axis in range(touched.ndim):
            others = tuple(a for a in range(touched.ndim) if a != axis)
            hit = np.flatnonzero(touched.any(axis=others) if others else touched)
            boxes.append((int(hit[0]), int(hit[-1])))
        regions.append(tuple(boxes))
    return regions


def check(model, specs=None, input_shape=None, samples=4, seed=0):
    rng = random.Random(seed)
    field = receptive_field(model)
    if specs is not None:  # the same numbers from the specs alone, without Keras
        from_specs = receptive_field(specs, input_shape=input_shape)
        assert (from_specs.size, from_specs.jump, from_specs.start) == (field.size, field.jump, field.start)
    spatial = tuple(model.outputs[0].shape[1:-1])
    positions = {tuple(0 for _ in spatial), tuple(n - 1 for n in spatial)}
    while len(positions) < min(samples, np.prod(spatial)):
        positions.add(tuple(rng.randrange(n) for n in spatial))
    positions = sorted(positions)
    expected = brute_force_regions(model, positions)
    for position, region in zip(positions, expected):
        assert field.region(position) == region, (position, specs)
    return field


@pytest.mark.parametrize("rank, seed", [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2), (3, 0), (4, 0)])
def test_random_chains_against_brute_force(rank, seed):
    rng = random.Random(100 * rank + seed)
    input_shape = (*(rng.randint(9, 14) if rank <= 2 else rng.randint(6, 8) for _ in range(rank)), 2)
    specs = random_chain(rng, rank, input_shape, layers=4 if rank <= 2 else 3)
    inputs = keras.Input(input_shape)
    x = inputs
    for text in specs:
        x = positive_layer(text)(x)
    check(keras.Model(inputs, x), specs, input_shape, samples=6 if rank <= 2 else 3, seed=seed)


@pytest.mark.parametrize("size", [2, 3])
def test_linear_upsampling_reads_its_two_neighbours(size):
    # structconv's UpSamplingND at rank 3 (Keras's UpSampling3D has no linear interpolation).
    from structconv.layers import UpSampling3D

    inputs = keras.Input((4, 3, 5, 1))
    x = positive_layer("Conv3D(2, 2, padding='same')")(inputs)
    x = UpSampling3D((size, 1, 2), interpolation="linear")(x)
    check(keras.Model(inputs, positive_layer("Conv3D(1, 3)")(x)), samples=6)


def test_the_unbordered_numbers_match_the_classic_recurrence():
    # r_out = r_in + (k - 1) d j_in, j_out = j_in s, start_out = start_in + ((k - 1) d / 2 - p) j_in.
    layers = [(7, 3, 1, 0), (5, 2, 1, 0), (3, 1, 2, 2), (3, 2, 1, 1)]
    specs = [f"Conv1D(1, {k}, strides={s}, dilation_rate={d}, padding={p})" for k, s, d, p in layers]
    size, jump, start = 1, 1, 0.0
    for k, s, d, p in layers:
        size, start, jump = size + (k - 1) * d * jump, start + ((k - 1) * d / 2 - p) * jump, jump * s
    field = receptive_field(specs, input_shape=(90, 1))
    assert field.size == (size,) and field.jump == (jump,) and field.start == (start,)


@pytest.mark.parametrize("merge", ["Add", "Concatenate(axis=-1)", "Concatenate(axis=1)"])
def test_branches_merge_as_the_union_of_their_regions(merge):
    inputs = keras.Input((13, 11, 1))
    stem = positive_layer("Conv2D(2, 3, padding='same')")(inputs)
    wide = positive_layer("Conv2D(2, (5, 1), padding='causal', dilation_rate=2)")(stem)
    wide = positive_layer("AveragePooling2D(3, strides=1, padding='same')")(wide)
    narrow = positive_layer("Cropping2D(((1, 1), (0, 2)))")(stem)
    narrow = positive_layer("ZeroPadding2D(((2, 0), (1, 1)))")(narrow)
    merged = layer_from_spec(merge)([wide, narrow])
    down = positive_layer("Conv2D(2, 3, strides=2, padding='same')")(merged)
    model = keras.Model(inputs, down)
    field = check(model, samples=6)
    # The union is wider than either path alone.
    alone = receptive_field(keras.Model(inputs, positive_layer("Conv2D(2, 3, strides=2, padding='same')")(
        wide)))
    assert field.size[0] >= alone.size[0]


def test_recurrent_and_attention_layers_and_errors_naming_the_layer():
    inputs = keras.Input((8, 3))
    x = keras.layers.Conv1D(2, 3, padding="causal")(inputs)
    sequence = keras.layers.GRU(2, return_sequences=True)(x)
    attended = keras.layers.MultiHeadAttention(1, 2)(sequence, x)
    model = keras.Model(inputs, [sequence, attended])
    field = receptive_field(model, model.layers[2].name)  # step t of a GRU has read steps 0 ... t
    assert [field.region((t,)) for t in (0, 5)] == [((0, 0),), ((0, 5),)]
    assert receptive_field(model, model.layers[3].name).region((0,)) == ((0, 7),)
    outputs = keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True))(x)
    model = keras.Model(inputs, outputs)
    assert receptive_field(model, model.layers[1].name).size == (3,)
    with pytest.raises(StructconvError, match=r"\(Bidirectional\) has no receptive-field rule"):
        receptive_field(model)
    with pytest.raises(StructconvError, match="`layer`"):
        receptive_field(model, "nothing")
    with pytest.raises(StructconvError, match="`position`"):
        receptive_field(model, model.layers[1].name).region((8,))


def test_layers_with_keras_argument_names_are_read_by_their_config():
    # structconv's rank-generic pooling, upsampling, padding, cropping and depthwise layers (written
    # elsewhere) keep Keras's argument names: they must give the fields of the Keras layers they generalise.
    from structconv.shapes.receptive_field import chain_graph, receptive_fields

    def fields(names):
        shapes = [(None, 20, 18, 3), (None, 20, 18, 6), (None, 10, 9, 6), (None, 20, 18, 6),
                  (None, 22, 20, 6), (None, 20, 19, 6)]
        configs = [{"kernel_size": (3, 3), "strides": (1, 1), "padding": "same", "depth_multiplier": 2,
                    "dilation_rate": (2, 1), "rank": 2},
                   {"pool_size": (2, 2), "strides": None, "padding": "valid", "rank": 2},
                   {"size": (2, 2), "rank": 2},
                   {"padding": ((1, 1), (1, 1)), "rank": 2},
                   {"cropping": ((1, 1), (0, 1)), "rank": 2}]
        chain = [(name, name, config, shapes[i], shapes[i + 1]) for i, (name, config) in
                 enumerate(zip(names, configs))]
        return [str(field) for field in receptive_fields(chain_graph(shapes[0], chain)).values()]

    stock = fields(["DepthwiseConv2D", "AveragePooling2D", "UpSampling2D", "ZeroPadding2D", "Cropping2D"])
    generic = fields(["DepthwiseConvND", "AveragePoolingND", "UpSamplingND", "ZeroPaddingND", "CroppingND"])
    assert generic == stock and "None" not in " ".join(stock)
