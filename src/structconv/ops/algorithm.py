"""`explain_choice`: what `algorithm="auto"` runs for a convolution on this machine, and why.

The decision itself is the planner's (`ops.planner`): a cost model ranks every way the backend can run
the problem, and the candidates it cannot tell apart are timed once and remembered.
"""

import keras

from structconv import config
from structconv.ops import candidate_plans, planner
from structconv.ops.arguments import conv_arguments, resolve_padding, split_shape
from structconv.ops.problem import ConvProblem


def explain_choice(input_shape, kernel_shape, *, strides=1, padding="valid", dilation_rate=1, groups=1,
                   data_format=None, padding_mode="zeros", dtype="float32", backend_name=None,
                   training=False, algorithm="auto", device="cpu"):
    """What `ops.conv` with `algorithm` runs on these static shapes, and where the decision came from.

    Args:
        input_shape: `(batch, *spatial, channels)` (channels_last) or `(batch, channels, *spatial)`.
        kernel_shape: `(*kernel_size, channels / groups, filters)`.
        strides, padding, dilation_rate, groups, data_format, padding_mode: as for `ops.conv`.
        dtype: `"float32"`, `"float64"`, `"float16"` or `"bfloat16"` (whose direct plans may compute in
            float32: `ops.working_precision`).
        backend_name: whose profile to use; the active Keras backend by default (measuring, where the
            planner measures, needs the active backend).
        training: whether the gradient will be taken (forward + backward is then what counts).
        algorithm: `"auto"`, `"direct"` or `"fft"`.
        device: `"cpu"` or `"gpu"`.

    Returns:
        A dict: `"algorithm"` (`"direct"` or `"fft"`), `"plan"` (the variant's label, e.g.
        `"fft:whole:dft:loop"`), `"source"` (`"measured"`, `"plan file"`, `"calibrated profile"`,
        `"shipped profile"`, `"unprofiled profile"` or `"rule"`), `"profile"` (which profile, with its
        machine and date), `"modelled_us"` and `"measured_us"` (per candidate label), the cheapest modelled
        `"direct_us"` and `"fft_us"`, what a gradient past the backend's backward cliff adds to direct
        (`"direct_cliff_us"`, 0 below it or forward; docs/fft.md), the FFT plan's `"fft_lengths"` and
        `"fft_memory_bytes"`, and `"budget_bytes"`.

    Example:

    >>> info = explain_choice((1, 64, 8), (3, 8, 8), padding="same")
    >>> info["algorithm"], info["source"]  # too few taps for FFT: a rule, nothing timed
    ('direct', 'rule')
    """
    rank = len(input_shape) - 2
    args = conv_arguments(rank, strides, padding, dilation_rate, groups, data_format, padding_mode,
                          default_data_format=keras.config.image_data_format(), algorithm=algorithm)
    spatial, channels = split_shape(tuple(input_shape), args.data_format)
    kernel_size = tuple(kernel_shape[:rank])
    pads = resolve_padding(spatial, kernel_size, args)
    problem = ConvProblem(
        backend=backend_name or keras.backend.backend(), device=device, rank=rank, batch=input_shape[0],
        spatial=tuple(spatial), channels=channels, filters=kernel_shape[-1], kernel_size=kernel_size,
        groups=args.groups, strides=args.strides, dilation_rate=args.dilation_rate, padding=pads,
        padding_mode=args.padding_mode, dtype=dtype, data_format=args.data_format, training=bool(training))
    profile = candidate_plans.profile_for(problem.backend, device)
    candidates = candidate_plans.candidates(problem, profile)
    plan = planner.plan_conv(problem, args.algorithm)
    ffts = [c for c in candidates if c.algorithm == "fft"]
    best_fft = min(ffts, key=lambda c: c.modelled_us) if ffts else None
    shown = plan if plan.algorithm == "fft" else best_fft
    return {
        "algorithm": plan.algorithm,
        "plan": plan.label,
        "source": plan.source,
        "profile": profile.description,
        "modelled_us": {c.label: round(c.modelled_us, 1) for c in candidates},
        "measured_us": dict(plan.measured_us),
        "direct_us": min(c.modelled_us for c in candidates if c.algorithm == "direct"),
        "fft_us": best_fft.modelled_us if best_fft else None,
        "direct_cliff_us": candidate_plans.backward_cliff_us(problem, profile.costs),
        "fft_lengths": shown.fft.lengths if shown else None,
        "fft_memory_bytes": shown.fft.memory if shown else None,
        "budget_bytes": config.fft_memory_budget(),
    }
