"""Initializers for structconv layers."""

# First: structconv registers its classes with Keras only once this package has loaded
# (`structconv._registration`), whichever of the two a program imports first.
from structconv import _registration  # noqa: I001

_registration.loading(__name__)
import keras  # noqa: F401, I001

from structconv.initializers.complex_initializer import ComplexInitializer

__all__ = ["ComplexInitializer"]

_registration.loaded(__name__)
