"""Initializers for structconv layers."""

from structconv.initializers.complex_initializer import ComplexInitializer

__all__ = ["ComplexInitializer"]
