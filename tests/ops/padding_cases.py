"""Seeded random padding arguments of every form, shared by the op tests (`tests/ops`, `tests/fft`)."""

import reference

PADDING_NAMES = ("valid", "same", "full", "causal")
# A name, one int for every axis, a (before, after) pair per axis, or per axis any of those.
PADDING_KINDS = (*PADDING_NAMES, "int", "pair", "mixed")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _axis_entry(kind, rng, int_max, pair_max):
    if kind == "int":
        return rng.randint(0, int_max)
    if kind == "pair":
        return (rng.randint(0, pair_max[0]), rng.randint(0, pair_max[1]))
    return kind


def random_padding(kind, rank, rng, int_max=2, pair_max=(2, 2)):
    """A `padding` argument of `kind` (one of `PADDING_KINDS`) for `rank` axes, drawn with the
    `random.Random` `rng`: ints up to `int_max`, pairs up to `pair_max`."""
    if kind in PADDING_NAMES:
        return kind
    if kind == "mixed":
        return tuple(_axis_entry(rng.choice([*PADDING_NAMES, "int", "pair"]), rng, int_max, pair_max)
                     for _ in range(rank))
    if kind == "int":
        return _axis_entry("int", rng, int_max, pair_max)
    return tuple(_axis_entry("pair", rng, int_max, pair_max) for _ in range(rank))


def padding_fits(spatial, kernel_size, strides, dilation, padding, mode):
    """Whether `padding` in `mode` leaves room for the kernel on every axis (and reflect / circular
    padding no wider than the input allows)."""
    pairs = reference.padding_pairs(padding, spatial, kernel_size, strides, dilation)
    for n, k, d, (before, after) in zip(spatial, kernel_size, dilation, pairs):
        if n + before + after < reference.extent(k, d):
            return False
        if mode == "reflect" and max(before, after) >= n or mode == "circular" and max(before, after) > n:
            return False
    return True


def operand_shape(config, spatial, channels):
    """The shape of an input or output of `config` (its "batch" and "data_format") with these `spatial`
    sizes and `channels`."""
    if config["data_format"] == "channels_first":
        return (config["batch"], channels, *spatial)
    return (config["batch"], *spatial, channels)
