"""Projections for stock Keras layers: `keras.constraints.Constraint`s built on the parametrizations.

A Keras constraint is applied *after* each optimizer step: it projects the kernel back onto the constraint
set. That is what these do, for users who keep `keras.layers.Conv2D`:

    keras.layers.Conv2D(8, 7, kernel_constraint=structconv.constraints.ZeroSum())

The same structure held exactly inside the forward pass is a layer's `kernel_parametrization=` (see
`structconv.parametrizations`); the axis semantics are the same.
"""

# First: structconv registers its classes with Keras only once this package has loaded
# (`structconv._registration`), whichever of the two a program imports first.
from structconv import _registration  # noqa: I001

_registration.loading(__name__)
import keras  # noqa: F401, I001

from structconv.constraints.projection import FixedSum, Mask, NonNeg, UnitNorm, ZeroSum

__all__ = ["FixedSum", "Mask", "NonNeg", "UnitNorm", "ZeroSum"]

_registration.loaded(__name__)
