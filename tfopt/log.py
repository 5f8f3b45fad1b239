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

__all__ = ["live_console", "logger", "show"]

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


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <function ...> triggered tf.function
    retracing" warning. tfopt's final stage predicts with several models (retrainings,
    checkpoint, average), each with its own compiled function, which TensorFlow's heuristic
    counts as retracing one function; nothing is traced more than once a model."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


_RETRACING = _NoRetracingNotice()


def show(verbose):
    """Shows tfopt's messages at `verbose` (0: errors only) on the console, unless the
    program has given the `tfopt` logger handlers of its own; TensorFlow's retracing notice
    is held back (`_NoRetracingNotice`)."""
    logging.getLogger("tensorflow").addFilter(_RETRACING)  # once: filters are a set
    if not logger.handlers:
        logger.addHandler(_Console())
        logger.propagate = False
    if all(isinstance(handler, _Console) for handler in logger.handlers):
        logger.setLevel(logging.INFO if verbose else logging.ERROR)


def live_console():
    """Whether output goes where Keras' progress bars redraw (a terminal or a notebook),
    not to a file or a pipe, where they leave backspaces and carriage returns."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules
