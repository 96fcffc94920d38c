"""One kernel variable of a layer, plain or computed by a parametrization from a free variable.

`BaseConvND` (every convolution layer, complex ones too) holds one kernel this way; the depthwise and
separable layers hold one or two, each with its own parametrization, so the logic lives here once per
kernel rather than once per layer.
"""

import keras
from keras import ops

from structconv import parametrizations
from structconv.errors import StructconvError, invalid_argument


def get_parametrization(identifier, name):
    """`parametrizations.get(identifier)`, with errors naming the layer's argument `name`."""
    try:
        return parametrizations.get(identifier)
    except StructconvError:
        raise invalid_argument(
            name,
            identifier,
            "None, a Parametrization, a list of them, or one of "
            + ", ".join(repr(n) for n in parametrizations.base.registered_names()),
        ) from None


def check_no_constraint(constraint, constraint_name, parametrization):
    if parametrization is not None and constraint is not None:
        raise invalid_argument(
            constraint_name,
            constraint,
            "None when a parametrization is set: the parametrization already holds the kernel's structure "
            "exactly, a post-step projection of its free variable would not mean the same",
        )


class KernelWeight:
    """A kernel of `shape` on `layer`: the variable `name`, or `free_<name>` under a parametrization."""

    def __init__(self, layer, name, shape, initializer, regularizer, constraint, parametrization):
        self.parametrization = None
        if parametrization is None:
            self.variable = layer.add_weight(
                name=name, shape=shape, initializer=initializer, regularizer=regularizer,
                constraint=constraint, trainable=True, dtype=layer.dtype,
            )
            return
        self.parametrization = parametrization.build(shape)

        def free_initializer(free_shape, dtype=None):
            # Draw a kernel as the plain layer would, then move it onto the constraint.
            dense = initializer(shape, dtype=dtype)
            return self.parametrization.right_inverse(self.parametrization.project(dense))

        # Mixed precision: the parametrization runs on the float32 variable, the layer casts its result.
        self.variable = layer.add_weight(
            name=f"free_{name}", shape=self.parametrization.free_shape, initializer=free_initializer,
            trainable=True, dtype=layer.dtype, autocast=False,
        )
        self.regularizer = regularizer
        self.layer = layer

    @property
    def value(self):
        """The effective kernel (Keras layout)."""
        return self.value_from(self.variable)

    def value_from(self, base):
        """The effective kernel computed from `base` in the variable's place (LoRA's updated base)."""
        return base if self.parametrization is None else self.parametrization.forward(base)

    def penalize(self, kernel):
        """Adds a parametrized kernel's regularizer penalty on the effective `kernel` to the layer's losses
        (a plain kernel's regularizer is the variable's own); called from the layer's `call` only: reading
        the kernel elsewhere adds no loss."""
        if self.parametrization is not None and self.regularizer is not None:
            self.layer.add_loss(self.regularizer(kernel))

    def value_in_call(self):
        """`value`, read inside the layer's `call` (with `penalize`)."""
        kernel = self.value
        self.penalize(kernel)
        return kernel

    def assign(self, values, *, project=False, name="values"):
        """Sets the effective kernel; under a parametrization `values` must satisfy it (or `project=True`)."""
        if self.parametrization is None:
            self.variable.assign(values)
            return
        values = ops.convert_to_tensor(values, dtype=self.variable.dtype)
        if project:
            values = self.parametrization.project(values)
        elif not self.parametrization.in_manifold(values, atol=1e-4):
            raise invalid_argument(
                name,
                f"a kernel of shape {tuple(values.shape)}",
                f"a kernel that satisfies {self.parametrization!r} (or pass project=True)",
            )
        self.variable.assign(self.parametrization.right_inverse(values))


def serialize_parametrization(parametrization):
    return None if parametrization is None else keras.saving.serialize_keras_object(parametrization)
