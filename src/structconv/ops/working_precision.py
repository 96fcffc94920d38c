"""Direct plans of a float16 or bfloat16 convolution: in its own dtype, or computed in float32.

A half-precision convolution (a Keras `mixed_float16` or `mixed_bfloat16` policy, or half-precision tensors)
can run the backend's convolution on its own dtype, or widen input and kernel to float32, run that, and round
the output back (`Plan.working_dtype`): the same result to the half dtype's rounding, or closer (its products
summed in float32, as FFT plans do). Which is faster is the machine's: on a 2-vCPU AMD EPYC without AVX-512
(no bfloat16 or float16 instructions), torch's CPU convolution in bfloat16 ran 3.6-1066x longer than widened
(2-D 128^2 k=9 8 -> 8, batch 2: 60.7 ms against 5.3; 3-D 24^3 k=3: 80.6 against 1.8), XLA's 1.0-1.4x,
TensorFlow's 1.0-33x (`benchmarks/auto_vs_forced.py --dtype bfloat16`); where the CPU computes in half
precision (AVX-512 BF16, AMX) or on a GPU's tensor cores, its own dtype is the faster. The calibrated rates
are float32's, so each way is priced at the float32 model's time: by the model alone, the one the device is
expected to run slower at `UNMODELLED_FACTOR` times that (its own dtype on a CPU, the widened one on a GPU);
where "auto" measures, the own dtype at the ratio `tuning.half_precision` measured on this machine, so that
both are timed (`ops.contenders.family` tells them apart) unless the own dtype is far slower.
"""

import dataclasses
import math

# The way the device is not expected to favour, at this factor of the model's time.
UNMODELLED_FACTOR = 1.5
# Bytes moved per element to widen an operand (2 read, 4 written) or narrow the output (4 read, 2 written).
CAST_BYTES = 6


def cast_us(problem, costs):
    """Modelled time of widening input and kernel and narrowing the output (twice that with a gradient:
    the gradients are cast back the other way)."""
    inputs = problem.planned_batch * problem.channels * math.prod(problem.spatial)
    kernel = problem.taps * problem.channels // problem.groups * problem.filters
    outputs = problem.planned_batch * problem.filters * math.prod(problem.outputs)
    factor = 2.0 if problem.training else 1.0
    return factor * CAST_BYTES * (inputs + kernel + outputs) / (costs.direct_gbps * 1e3)


def with_working_precision(problem, costs, plans, own_slowdown=None, doubted_in_float32=False):
    """`plans` (direct, priced by the float32 model) for `problem`; for a half-precision problem, each in
    its own dtype and computed in float32, priced as the module docstring says (`own_slowdown`: the
    measured time of the own dtype over the widened one, None where not measured). The backward cliff in
    a plan's price (`Plan.uncertain_us`) was probed in float32: it stays a doubt in the own dtype, whose
    kernels may have none, and where computed in float32 only if `doubted_in_float32` (the 1-D cliff's,
    `candidate_plans.candidates`)."""
    if not problem.half_precision:
        return plans
    if own_slowdown:
        widened_factor, own_factor = 1.0, own_slowdown
    elif problem.device == "cpu":
        widened_factor, own_factor = 1.0, UNMODELLED_FACTOR
    else:
        widened_factor, own_factor = UNMODELLED_FACTOR, 1.0
    extra = cast_us(problem, costs)
    found = []
    for plan in plans:
        found.append(plan.scaled(own_factor))
        found.append(dataclasses.replace(plan, working_dtype="float32",
                                         modelled_us=plan.modelled_us * widened_factor + extra,
                                         uncertain_us=plan.uncertain_us * widened_factor
                                         if doubted_in_float32 else 0.0))
    return found
