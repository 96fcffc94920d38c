"""Kernel parametrizations: constraints that hold exactly, computed from free variables in the forward pass.

Use them through a layer's `kernel_parametrization=` argument, by object, registry name or list:

    structconv.layers.Conv2D(8, 7, kernel_parametrization="zero_sum")
    structconv.layers.Conv2D(8, 7, kernel_parametrization=[ZeroSum(), UnitNorm()])
"""

# First: structconv registers its classes with Keras only once this package has loaded
# (`structconv._registration`), whichever of the two a program imports first.
from structconv import _registration  # noqa: I001

_registration.loading(__name__)
import keras  # noqa: F401, I001

import copy

from structconv.errors import invalid_argument
from structconv.parametrizations.base import Parametrization, lookup, registered_names
from structconv.parametrizations.compose import Compose
from structconv.parametrizations.fixed_sum import FixedSum, ZeroSum
from structconv.parametrizations.fixed_taps import FixedTaps
from structconv.parametrizations.mask import Mask
from structconv.parametrizations.non_neg import NonNeg
from structconv.parametrizations.symmetric import Symmetric
from structconv.parametrizations.unit_modulus import UnitModulus
from structconv.parametrizations.unit_norm import UnitNorm


def get(identifier):
    """Returns a fresh, unbuilt parametrization from an object, a registry name, a list, a config or `None`.

    >>> get("zero_sum")
    ZeroSum(axis=None)
    >>> get(["zero_sum", "unit_norm"]).members
    [ZeroSum(axis=None), UnitNorm(axis=None)]
    """
    if identifier is None:
        return None
    if isinstance(identifier, Parametrization):
        # A layer builds its parametrization for its own kernel shape: never share the instance.
        return copy.deepcopy(identifier)
    if isinstance(identifier, str):
        return lookup(identifier)()
    if isinstance(identifier, (list, tuple)):
        return Compose(list(identifier))
    if isinstance(identifier, dict):
        import keras

        return keras.saving.deserialize_keras_object(identifier)
    raise invalid_argument(
        "kernel_parametrization",
        identifier,
        "None, a Parametrization, a list of them, or one of " + ", ".join(registered_names()),
    )


__all__ = [
    "Compose",
    "FixedSum",
    "FixedTaps",
    "Mask",
    "NonNeg",
    "Parametrization",
    "Symmetric",
    "UnitModulus",
    "UnitNorm",
    "ZeroSum",
    "get",
]

_registration.loaded(__name__)
