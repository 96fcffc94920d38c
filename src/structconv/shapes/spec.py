"""Layer specs from text, parsed safely: `"Conv2D(32, 7, strides=3)"` -> a Keras layer.

A spec is a layer class name, optionally called with literal arguments (numbers, strings, tuples, lists,
dicts, sets, booleans, None). It is parsed with `ast` and its arguments read with `ast.literal_eval`:
nothing in it is ever executed, so `"__import__('os').system(...)"` is rejected, not run. Names are looked
up in `structconv.layers` first, then `keras.layers`. `parse_spec` imports no Keras, so a bad spec is
rejected before any backend loads.
"""

import ast

from structconv.errors import StructconvError

# Layers that run or load code given to them (a function, a saved model, a module): never from a spec.
_REFUSED = ("Lambda", "TFSMLayer", "JaxLayer", "FlaxLayer", "TorchModuleWrapper")
_FORM = "a layer name, optionally called with literal arguments, e.g. 'Conv2D(32, 7, strides=3)'"


def parse_spec(text):
    """Returns `(class_name, args, kwargs)` for a spec, checking that every argument is a literal.

    >>> parse_spec("Conv2D(32, 7, strides=3, use_bias=False)")
    ('Conv2D', [32, 7], {'strides': 3, 'use_bias': False})
    >>> parse_spec("Flatten")
    ('Flatten', [], {})
    >>> parse_spec("__import__('os').system('echo hi')")
    Traceback (most recent call last):
    ...
    structconv.errors.StructconvError: Invalid layer spec "__import__('os').system('echo hi')": expected \
a layer name, optionally called with literal arguments, e.g. 'Conv2D(32, 7, strides=3)'.
    """
    if not isinstance(text, str):
        raise StructconvError(f"Invalid layer spec {text!r}: expected a string, {_FORM}.")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise StructconvError(f"Invalid layer spec {text!r}: expected {_FORM}.") from error
    if isinstance(tree, ast.Name):
        name, args, kwargs = tree.id, [], {}
    elif isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        name = tree.func.id
        try:
            args = [ast.literal_eval(node) for node in tree.args]
            kwargs = {}
            for keyword in tree.keywords:
                if keyword.arg is None:
                    raise ValueError("**kwargs")
                kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as error:
            raise StructconvError(
                f"Invalid layer spec {text!r}: arguments must be literals (numbers, strings, tuples, lists, "
                "dicts, booleans, None); nothing in a spec is evaluated."
            ) from error
    else:
        raise StructconvError(f"Invalid layer spec {text!r}: expected {_FORM}.")
    if name.startswith("_") or name in _REFUSED:
        raise StructconvError(
            f"Unknown layer {name!r} in spec {text!r}: expected a layer of structconv.layers or keras.layers"
            f" (except {', '.join(_REFUSED)}, which run code)."
        )
    return name, args, kwargs


def layer_from_spec(text):
    """Builds the Keras layer a spec names (see the module docstring).

    >>> layer_from_spec("Dense(3, use_bias=False)").units
    3
    """
    import keras

    import structconv.layers

    name, args, kwargs = parse_spec(text)
    cls = getattr(structconv.layers, name, None) or getattr(keras.layers, name, None)
    if not isinstance(cls, type) or not issubclass(cls, keras.layers.Layer):
        raise StructconvError(
            f"Unknown layer {name!r} in spec {text!r}: not a layer of structconv.layers or keras.layers."
        )
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
        raise StructconvError(f"Invalid arguments in layer spec {text!r}: {error}") from error
