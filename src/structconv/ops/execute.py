"""The executor: runs a `Plan` for its `ConvProblem`. It never decides anything the plan holds."""

import dataclasses

from keras import ops

from structconv._backend import get_backend
from structconv.ops.decomposition import decomposed_conv, decomposed_conv_transpose
from structconv.ops.even_channels import even_channels_conv
from structconv.ops.fft_conv import fft_conv, fft_conv_transpose_full
from structconv.ops.grouping import grouped_conv
from structconv.ops.halves import halves_conv, halves_conv_transpose_full
from structconv.ops.padded_row import padded_row_conv
from structconv.ops.padding import pad_spatial
from structconv.shapes.arithmetic import decomposition_rank


def execute(plan, problem, inputs, kernel):
    """`conv` of `inputs` and `kernel` (float tensors of one dtype, shapes as `problem` says) by `plan`;
    for a transposed problem, the *full* transposed convolution (the caller crops it). One compiled
    program per plan and problem where the backend stages eager calls (`staged`: JAX, TensorFlow), the
    form measured planning times, so that its measured picks hold for eager callers."""
    return get_backend().staged(_execute, (plan, problem), inputs, kernel)


def _execute(plan, problem, inputs, kernel):
    if plan.working_dtype:  # a direct plan of a half-precision problem, computed in float32
        narrow = inputs.dtype
        y = _execute(dataclasses.replace(plan, working_dtype=None), problem,
                     ops.cast(inputs, plan.working_dtype), ops.cast(kernel, plan.working_dtype))
        return ops.cast(y, narrow)
    if plan.grouping:  # a grouped convolution built from ungrouped ones, each run by the rest of the plan
        ungrouped = dataclasses.replace(plan, grouping=None)
        return grouped_conv(plan.grouping, problem, inputs, kernel,
                            lambda part, x, k: _execute(ungrouped, part, x, k))
    if problem.transposed:
        return _conv_transpose_full(plan, problem, inputs, kernel)
    if plan.algorithm == "fft":
        return fft_conv(inputs, kernel, problem, plan.fft)
    backend = get_backend()
    conv = even_channels_conv(backend.conv) if plan.even_channels else backend.conv
    if plan.padded_row:
        conv = padded_row_conv(conv)
    padding = problem.padding
    if problem.padding_mode != "zeros" and any(any(pair) for pair in padding if pair is not None):
        inputs = pad_spatial(inputs, padding, problem.padding_mode, problem.data_format)
        padding = ((0, 0),) * problem.rank
    if plan.direct == "native":
        return conv(inputs, kernel, problem.strides, padding, problem.dilation_rate, problem.groups,
                    problem.data_format)
    if plan.direct == "channels_first":  # a channels_last problem (the planner offers it for no other)
        y = conv(backend.channels_first_copy(inputs), kernel, problem.strides, padding,
                 problem.dilation_rate, problem.groups, "channels_first")
        return ops.moveaxis(y, 1, -1)
    if plan.direct == "halves":  # a batch of one (the planner offers it for no other)
        return halves_conv(inputs, kernel, problem, padding, conv)
    if plan.direct == "im2col":  # where the backend's `im2col_helps` (the planner offers it for no other)
        return backend.conv_im2col(inputs, kernel, problem.strides, padding, problem.dilation_rate,
                                   problem.data_format)
    return decomposed_conv(inputs, kernel, problem, padding, conv, _onto(plan, problem),
                           backend.PREFERRED_DATA_FORMAT, plan.direct)


def _conv_transpose_full(plan, problem, inputs, kernel):
    backend = get_backend()
    if plan.algorithm == "fft":
        return fft_conv_transpose_full(inputs, kernel, problem, plan.fft)
    if plan.direct == "native":
        return backend.conv_transpose(inputs, kernel, problem.strides, problem.dilation_rate,
                                      problem.data_format)
    if plan.direct == "halves":
        return halves_conv_transpose_full(inputs, kernel, problem, backend.conv_transpose)
    return decomposed_conv_transpose(inputs, kernel, problem, backend.conv_transpose, _onto(plan, problem),
                                     backend.PREFERRED_DATA_FORMAT)


def _onto(plan, problem):
    """The rank the plan's decomposition runs on: its own, else the backend's target."""
    return plan.onto or decomposition_rank(problem.rank, get_backend().DECOMPOSE_TO_RANK)
