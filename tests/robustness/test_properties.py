"""Property tests (hypothesis): random configurations of the ops against the NumPy references.

Valid configurations (ranks 1-3, small sizes, strides, dilation, groups, every padding form and
`padding_mode`, both data formats) of `ops.conv` (direct and FFT), `ops.conv_transpose` and
`ops.complex_conv` (every method) must equal `tests/reference.py` (and the complex reference of
`tests/complex/complex_helpers.py`) in float64. Invalid ones, one argument spoiled at a time, must raise
`ValueError` or `TypeError`, never another exception.

Examples are derandomized and few, so each test takes seconds and CI sees the same examples every run.
"""

import keras
import numpy as np
import pytest
import reference
from complex.complex_helpers import complex_conv_reference, to_complex_numpy
from conftest import assert_close, assert_plan_matches_reference, compiled, conv_problem_of, tensor
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from structconv import ops
from structconv.ops import candidate_plans

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PADDING_NAMES = ("valid", "same", "full", "causal")
MODES = ("zeros", "reflect", "replicate", "circular")


@st.composite
def axis_padding(draw):
    return draw(
        st.one_of(
            st.sampled_from(PADDING_NAMES),
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
        )
    )


@st.composite
def conv_configs(draw, with_groups=True, with_modes=True):
    """A valid convolution: arguments, operand shapes, and the padding pairs the reference resolves."""
    rank = draw(st.sampled_from((1, 1, 2, 2, 3)))
    kernel_size = draw(st.tuples(*[st.integers(1, 3)] * rank))
    strides = draw(st.tuples(*[st.integers(1, 2)] * rank))
    dilation = draw(st.tuples(*[st.integers(1, 2)] * rank))
    sizes = draw(st.tuples(*[st.integers(1, 7 if rank < 3 else 5)] * rank))
    if draw(st.booleans()):
        padding = draw(st.sampled_from(PADDING_NAMES) | st.integers(0, 2))
    else:
        padding = tuple(draw(axis_padding()) for _ in range(rank))
    groups = draw(st.sampled_from((1, 1, 2))) if with_groups else 1
    channels = groups * draw(st.integers(1, 2))
    filters = groups * draw(st.integers(1, 2))
    mode = draw(st.sampled_from(MODES)) if with_modes else "zeros"
    data_format = draw(st.sampled_from(("channels_last", "channels_first")))
    pairs = reference.padding_pairs(padding, sizes, kernel_size, strides, dilation)
    for n, (before, after), k, d in zip(sizes, pairs, kernel_size, dilation):
        assume(n + before + after >= reference.extent(k, d))
        if mode == "reflect":
            assume(max(before, after) < n)
        if mode == "circular":
            assume(max(before, after) <= n)
    return dict(
        rank=rank, kernel_size=kernel_size, strides=strides, dilation=dilation, sizes=sizes,
        padding=padding, groups=groups, channels=channels, filters=filters, mode=mode,
        data_format=data_format, pairs=pairs,
    )


def operands(config, kernel_shape, seed):
    rng = np.random.default_rng(seed)
    batch = 2
    shape = (batch, *config["sizes"], config["channels"])
    if config["data_format"] == "channels_first":
        shape = (batch, config["channels"], *config["sizes"])
    return rng.standard_normal(shape), rng.standard_normal(kernel_shape)


def conv_kernel_shape(config):
    return (*config["kernel_size"], config["channels"] // config["groups"], config["filters"])


def run_conv(config, x, kernel, algorithm):
    def function(x, kernel):
        return ops.conv(
            x, kernel, strides=config["strides"], padding=config["padding"],
            dilation_rate=config["dilation"], groups=config["groups"], data_format=config["data_format"],
            padding_mode=config["mode"], algorithm=algorithm,
        )

    return compiled(function)(tensor(x, "float64"), tensor(kernel, "float64"))


@pytest.mark.parametrize("algorithm", ["direct", "fft"])
@SETTINGS
@given(config=conv_configs(), seed=st.integers(0, 2**16))
def test_conv_equals_reference(algorithm, config, seed):
    x, kernel = operands(config, conv_kernel_shape(config), seed)
    expected = reference.conv_reference(
        x, kernel, config["strides"], config["pairs"], config["dilation"], config["groups"],
        config["mode"], config["data_format"],
    )
    actual = run_conv(config, x, kernel, algorithm)
    assert np.all(np.isfinite(np.asarray(keras.ops.convert_to_numpy(actual))))
    assert_close(actual, expected, "float64")


@settings(SETTINGS, max_examples=10)
@given(config=conv_configs(), seed=st.integers(0, 2**16))
def test_every_candidate_plan_equals_reference(config, seed):
    """Every plan the planner offers for the problem (each direct way, each FFT geometry, transform and
    product), run by the executor: forward and gradients (float64 central differences along a random
    direction) against the reference. Such a sweep found torch's kernel-gradient crash next to
    channels-last data and oneDNN's one-window bug (`_backend.in_one_window_form`)."""
    x, kernel = operands(config, conv_kernel_shape(config), seed)

    def numpy_reference(x, kernel):
        return reference.conv_reference(x, kernel, config["strides"], config["pairs"], config["dilation"],
                                        config["groups"], config["mode"], config["data_format"])

    problem, _ = conv_problem_of(
        tensor(x, "float64"), tensor(kernel, "float64"), training=True, strides=config["strides"],
        padding=config["padding"], dilation_rate=config["dilation"], groups=config["groups"],
        data_format=config["data_format"], padding_mode=config["mode"])
    rng = np.random.default_rng(seed)
    for plan in candidate_plans.candidates(problem):
        assert_plan_matches_reference(plan, problem, x, kernel, numpy_reference, rng)


@st.composite
def conv_transpose_configs(draw):
    config = draw(conv_configs(with_groups=False, with_modes=False))
    if draw(st.booleans()):
        config["output_padding"] = None
    else:
        config["output_padding"] = tuple(draw(st.integers(0, s - 1)) for s in config["strides"])
    # Every axis must keep a non-empty output.
    entries = reference.per_axis(config["padding"], config["rank"])
    extras = config["output_padding"] or (None,) * config["rank"]
    for n, k, s, entry, extra, d in zip(
        config["sizes"], config["kernel_size"], config["strides"], entries, extras, config["dilation"]
    ):
        assume(reference.conv_transpose_output_length(n, k, s, entry, extra, d) >= 1)
    return config


@SETTINGS
@given(config=conv_transpose_configs(), seed=st.integers(0, 2**16))
def test_conv_transpose_equals_reference(config, seed):
    kernel_shape = (*config["kernel_size"], config["filters"], config["channels"])
    y, kernel = operands(config, kernel_shape, seed)
    expected = reference.conv_transpose_reference(
        y, kernel, config["strides"], config["padding"], config["output_padding"], config["dilation"],
        config["data_format"],
    )

    def function(y, kernel):
        return ops.conv_transpose(
            y, kernel, strides=config["strides"], padding=config["padding"],
            output_padding=config["output_padding"], dilation_rate=config["dilation"],
            data_format=config["data_format"],
        )

    actual = compiled(function)(tensor(y, "float64"), tensor(kernel, "float64"))
    assert_close(actual, expected, "float64")


@SETTINGS
@given(
    config=conv_configs(),
    method=st.sampled_from(("naive", "gauss", "block", "auto")),
    algorithm=st.sampled_from(("direct", "fft")),
    seed=st.integers(0, 2**16),
)
def test_complex_conv_equals_reference(config, method, algorithm, seed):
    rng = np.random.default_rng(seed)
    x_re, kernel_re = operands(config, conv_kernel_shape(config), seed)
    x = x_re + 1j * rng.standard_normal(x_re.shape)
    kernel = kernel_re + 1j * rng.standard_normal(kernel_re.shape)
    expected = complex_conv_reference(
        x, kernel, config["strides"], config["padding"], config["dilation"], config["groups"],
        config["mode"], config["data_format"],
    )

    def function(a, b, c, d):
        return ops.complex_conv(
            (a, b), (c, d), strides=config["strides"], padding=config["padding"],
            dilation_rate=config["dilation"], groups=config["groups"], data_format=config["data_format"],
            padding_mode=config["mode"], algorithm=algorithm, method=method,
        )

    parts = [tensor(p, "float64") for p in (x.real, x.imag, kernel.real, kernel.imag)]
    actual = to_complex_numpy(compiled(function)(*parts))
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


# --- invalid configurations ---------------------------------------------------------------------------------

# One argument spoiled at a time: (argument, bad value). Each value is invalid whatever the rest.
BAD_ARGUMENTS = [
    ("strides", 0), ("strides", -1), ("strides", 1.5), ("strides", "2"), ("strides", None), ("strides", True),
    ("strides", (1, 1, 1, 1)), ("dilation_rate", 0), ("dilation_rate", (0,)), ("dilation_rate", 2.0),
    ("padding", "sam"), ("padding", -1), ("padding", (1, 2, 3, 4)), ("padding", ((1, 2, 3),)),
    ("padding", None), ("padding", 1.5), ("groups", 0), ("groups", -2), ("groups", 1.0), ("groups", 3),
    ("data_format", "nhwc"), ("data_format", 1), ("padding_mode", "wrap"), ("padding_mode", None),
    ("algorithm", "fast"), ("algorithm", 1),
]
BAD_OPERANDS = ["kernel_rank", "kernel_channels", "kernel_too_large", "integer_input", "no_spatial_axis",
                "reflect_too_wide", "zero_size_kernel"]


def spoil_operands(kind, x, kernel, kwargs):
    rank = x.ndim - 2
    if kind == "kernel_rank":
        return x, kernel[..., None], kwargs
    if kind == "kernel_channels":
        return x, np.concatenate([kernel, kernel], axis=-2), kwargs
    if kind == "kernel_too_large":
        big = np.ones((9,) * rank + kernel.shape[-2:])
        return x, big, dict(kwargs, padding="valid")
    if kind == "integer_input":
        return x.astype("int32"), kernel, kwargs
    if kind == "no_spatial_axis":
        return x[(slice(None),) + (0,) * rank], kernel, kwargs
    if kind == "reflect_too_wide":
        return x, kernel, dict(kwargs, padding=8, padding_mode="reflect")
    if kind == "zero_size_kernel":
        return x, np.ones((0,) * rank + kernel.shape[-2:]), kwargs
    raise KeyError(kind)


@SETTINGS
@given(
    config=conv_configs(),
    spoiled=st.sampled_from(BAD_ARGUMENTS) | st.sampled_from(BAD_OPERANDS),
    which=st.sampled_from(("conv", "conv_transpose", "complex_conv")),
)
def test_invalid_configuration_raises_value_or_type_error(config, spoiled, which):
    if which == "conv_transpose":
        assume(config["groups"] == 1)  # else the unspoiled kernel would not fit conv_transpose either
    x, kernel = operands(config, conv_kernel_shape(config), 0)
    if config["data_format"] == "channels_first":
        x = np.moveaxis(x, 1, -1)  # the spoilers assume channels_last
    kwargs = dict(strides=config["strides"], padding=config["padding"], dilation_rate=config["dilation"],
                  groups=config["groups"], padding_mode=config["mode"], data_format="channels_last")
    if isinstance(spoiled, tuple):
        name, value = spoiled
        if which == "conv_transpose" and name in ("groups", "padding_mode"):
            which = "conv"  # conv_transpose has neither argument
        if name == "groups" and value == 3:
            assume(config["channels"] % 3 or config["filters"] % 3)
        kwargs[name] = value
    else:
        x, kernel, kwargs = spoil_operands(spoiled, x, kernel, kwargs)
        if which == "conv_transpose" and spoiled in ("reflect_too_wide", "kernel_too_large"):
            which = "conv"  # no padding mode; any kernel size is valid for the transpose
    x, kernel = x.astype(x.dtype if x.dtype.kind == "i" else "float64"), kernel.astype("float64")
    if which == "conv_transpose":
        kwargs.pop("groups"), kwargs.pop("padding_mode")
        # (*kernel_size, filters, in_channels): the same array, read with its last two axes swapped.
        kernel = np.swapaxes(kernel, -1, -2) if kernel.ndim >= 2 else kernel
        function = ops.conv_transpose
    elif which == "complex_conv":
        function = ops.complex_conv
        x, kernel = (x, np.zeros_like(x)), (kernel, np.zeros_like(kernel))
    else:
        function = ops.conv
    with pytest.raises((ValueError, TypeError)):
        function(x, kernel, **kwargs)

