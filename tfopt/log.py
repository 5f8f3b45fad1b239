"""tfopt's one voice: everything the library says goes through `logging.getLogger("tfopt")`.

`verbose` decides what is shown: 0 nothing but errors, 1 and 2 progress and warnings (2
also asks Keras for one line per epoch instead of progress bars). The command line, and a
`tfopt.search` call, show it on the console (`show`); a program that gives the `tfopt`
logger handlers of its own keeps them, and their levels.

Example:
    >>> import logging
    >>> logging.getLogger("tfopt").addHandler(logging.FileHandler("tfopt.log"))
    >>> logging.getLogger("tfopt").setLevel(logging.INFO)  # tfopt's lines to a file
"""

import logging
import sys

__all__ = ["logger", "show"]

logger = logging.getLogger("tfopt")


class _Console(logging.StreamHandler):
    """Writes to the current `sys.stdout` (notebooks and pytest replace it), warnings and
    errors to `sys.stderr`."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("[tfopt] %(message)s"))

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):  # logging.StreamHandler.__init__ sets it; the property decides
        pass

    def emit(self, record):
        if record.levelno >= logging.WARNING:
            sys.stdout.flush()
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
            return
        super().emit(record)


def show(verbose):
    """Shows tfopt's messages at `verbose` (0: errors only) on the console, unless the
    program has given the `tfopt` logger handlers of its own."""
    if not logger.handlers:
        logger.addHandler(_Console())
        logger.propagate = False
    if all(isinstance(handler, _Console) for handler in logger.handlers):
        logger.setLevel(logging.INFO if verbose else logging.ERROR)
