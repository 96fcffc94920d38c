"""Export: models whose structconv layers are replaced by stock Keras layers, for deployment."""

# First: Keras loads, and structconv registers its classes, before this package's modules run (a
# registration triggered from inside one of them would import it half-initialized; structconv._registration).
import keras  # noqa: F401, I001

from structconv.export.materialize import materialize

__all__ = ["materialize"]
