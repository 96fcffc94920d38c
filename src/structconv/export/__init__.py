"""Export: models whose structconv layers are replaced by stock Keras layers, for deployment."""

from structconv.export.materialize import materialize

__all__ = ["materialize"]
