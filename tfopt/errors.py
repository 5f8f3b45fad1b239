"""The one exception type for bad input: what was received, what was expected, how to fix it."""


class InputError(ValueError):
    """Bad settings, paths or data. The CLI prints it as one line and exits with code 2."""
