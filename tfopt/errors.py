"""tfopt's exceptions: bad input (what was received, what was expected, how to fix it),
and a search that cannot go on."""


class InputError(ValueError):
    """Bad settings, paths or data. The CLI prints it as one line and exits with code 2."""


class SearchError(RuntimeError):
    """A search that cannot go on (no trial completed, too many failures in a row); its
    state is saved. The CLI prints it as one line and exits with code 1."""
