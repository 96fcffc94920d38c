"""Plans kept by a layer per input shape, so that an eager call (PyTorch) runs no planning Python."""

from keras import ops

from structconv._backend import get_backend
from structconv.ops.conv import as_float_tensors, prepare_conv
from structconv.ops.execute import execute
from structconv.ops.make_problem import expects_gradient
from structconv.ops.planner import settings_key
from structconv.ops.problem import is_static
from structconv.ops.tracing import exporting_to_onnx

# Input shapes whose plan a layer keeps (a fully convolutional model fed many sizes starts over).
MAX_PLANS = 64


def call_with_training_hint(layer, training, function, *arguments):
    """`function(*arguments)` with Keras's `training` flag kept on `layer` for `cached_plan`: with a gradient
    to take, "auto" weighs forward + backward (Keras passes `training=True` to every layer in `fit`). Only a
    Python bool counts: a symbolic flag cannot steer a choice made while tracing."""
    object.__setattr__(layer, "_training_hint", training if isinstance(training, bool) else None)
    try:
        return function(*arguments)
    finally:
        object.__setattr__(layer, "_training_hint", None)


def cached_plan(layer, inputs, kernel, prepare, args=None):
    """`(inputs, kernel, problem, plan)`: the operands as one float dtype and the plan that
    `prepare(inputs, kernel, args, training)` (`ops.conv.prepare_conv` or
    `ops.conv_transpose.prepare_conv_transpose`) makes for them, kept on `layer` per shapes, dtypes,
    arguments (`layer.arguments` by default), gradient flag, XLA form (`traced_for_xla`) and planner
    settings. The flag is Keras's `training` as `call_with_training_hint` set it, else whether the backend
    will take a gradient."""
    args = layer.arguments if args is None else args
    inputs, kernel = ops.convert_to_tensor(inputs), ops.convert_to_tensor(kernel)
    # Without Keras's flag (a custom training loop calls the layer), what the backend tells: a plan made
    # under a gradient tape is then not reused for inference, nor the other way round.
    training = expects_gradient(inputs, kernel, getattr(layer, "_training_hint", None))
    # Symbolic sizes (torch.export's SymInt is unhashable) key as "symbolic", and so does an ONNX export's
    # unknown batch (its plan is direct: `ops.tracing.exporting_to_onnx`).
    shape = tuple(n if is_static(n) or n is None else "symbolic" for n in inputs.shape)
    if shape[0] is None and exporting_to_onnx():
        shape = ("symbolic", *shape[1:])
    xla = bool(get_backend().traced_for_xla())  # a step compiled by XLA runs its own measured plan
    key = (shape, str(inputs.dtype), tuple(kernel.shape), str(kernel.dtype), training, settings_key(), args,
           xla)
    plans = layer.__dict__.get("_structconv_plans")
    if plans is None:
        plans = {}
        object.__setattr__(layer, "_structconv_plans", plans)  # plain Python values: nothing to track
    inputs, kernel = as_float_tensors(inputs, kernel)
    found = plans.get(key)
    if found is None:
        if len(plans) >= MAX_PLANS:
            plans.clear()
        found = plans[key] = prepare(inputs, kernel, args, training)
    return (inputs, kernel, *found)


def planned_conv(layer, inputs, kernel, args=None):
    """`ops.conv` of `inputs` and `kernel` with `args` (`layer.arguments` by default), by the plan
    `cached_plan` keeps on `layer`."""
    inputs, kernel, problem, plan = cached_plan(layer, inputs, kernel, prepare_conv, args)
    return execute(plan, problem, inputs, kernel)
