"""The error type that every structconv argument check raises.

`StructconvError` subclasses `ValueError`, so `except ValueError` keeps working for callers that do not
know about structconv; `invalid_argument` builds the one message format used everywhere: the argument's
name, the value received and what is allowed.
"""


class StructconvError(ValueError):
    """Raised when an argument given to structconv is not valid.

    A subclass of `ValueError`. The message names the argument, the value received and the accepted values.
    """


def invalid_argument(name, value, allowed, *, detail=None):
    """Returns a `StructconvError` for argument `name` that received `value` where `allowed` is accepted.

    >>> str(invalid_argument("padding", "sam", "'valid', 'same', 'full', 'causal', an int or a tuple"))
    "Invalid `padding`: received 'sam'. Expected 'valid', 'same', 'full', 'causal', an int or a tuple."
    """
    message = f"Invalid `{name}`: received {value!r}. Expected {allowed}."
    if detail:
        message += f" {detail}"
    return StructconvError(message)
