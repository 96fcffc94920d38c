"""Layer specs from text, parsed safely: `"Conv2D(32, 7, strides=3)"` -> a Keras layer.

A spec is a layer class name, optionally called with literal arguments (numbers, strings, tuples, lists,
dicts, booleans, None). It is parsed with `ast` and its arguments read with `ast.literal_eval`: nothing in
it is ever executed, so `"__import__('os').system(...)"` is rejected, not run. Names are looked up in
`structconv.layers` first, then `keras.layers`.
"""

import ast

from structconv.errors import StructconvError


def parse_spec(text):
    """Returns `(class_name, args, kwargs)` for a spec, checking that every argument is a literal.

    >>> parse_spec("Conv2D(32, 7, strides=3, use_bias=False)")
    ('Conv2D', [32, 7], {'strides': 3, 'use_bias': False})
    >>> parse_spec("Flatten")
    ('Flatten', [], {})
    """
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise StructconvError(
            f"Invalid layer spec {text!r}: not of the form Name(literal arguments)."
        ) from error
    if isinstance(tree, ast.Name):
        return tree.id, [], {}
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise StructconvError(
            f"Invalid layer spec {text!r}: expected a layer name, optionally called with literal arguments, "
            "e.g. 'Conv2D(32, 7, strides=3)'."
        )
    try:
        args = [ast.literal_eval(node) for node in tree.args]
        kwargs = {}
        for keyword in tree.keywords:
            if keyword.arg is None:
                raise ValueError("**kwargs")
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
    except ValueError as error:
        raise StructconvError(
            f"Invalid layer spec {text!r}: arguments must be literals (numbers, strings, tuples, lists, "
            "booleans, None); nothing in a spec is evaluated."
        ) from error
    return tree.func.id, args, kwargs


def layer_from_spec(text):
    """Builds the Keras layer a spec names (see the module docstring)."""
    import keras

    import structconv.layers

    name, args, kwargs = parse_spec(text)
    if name.startswith("_"):
        raise StructconvError(f"Unknown layer {name!r} in spec {text!r}.")
    cls = getattr(structconv.layers, name, None) or getattr(keras.layers, name, None)
    if not isinstance(cls, type) or not issubclass(cls, keras.layers.Layer):
        raise StructconvError(
            f"Unknown layer {name!r} in spec {text!r}: not a layer of structconv.layers or keras.layers."
        )
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise StructconvError(f"Invalid arguments in layer spec {text!r}: {error}") from error
