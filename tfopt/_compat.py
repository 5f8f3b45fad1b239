"""Every private API of Keras, keras-tuner and TensorFlow that tfopt relies on, in one place.

Nothing else in tfopt imports `keras.src` or `keras_tuner.src`, or reads private state of
objects it did not make (an oracle's retry queue, Hyperband's schedule, TensorFlow's
gradient registry). Each use first checks the installed version against the versions tested
(`TESTED`, the same bounds setup.cfg installs) and that the private name is still there,
and otherwise raises `CompatError` saying what is installed and what to install.

tfopt's own subclasses also override or call some of keras-tuner's private methods
(`_try_build`, `_try_run_and_update_trial`, `_save_trial`, ...); `require_hooks` checks
that they exist where those classes are put together (`tfopt.tuning.tuners`). The
multi-worker fixes check Keras' trainer themselves (`tfopt.training.multi_worker`).
"""

import contextlib
import functools
import importlib
import sys
from importlib import metadata

__all__ = ["CompatError", "TESTED", "gradient_registry", "hyperband_rounds", "is_chief_oracle",
           "set_hyperband_brackets",
           "keras_tuner_debug", "keras_tuner_private", "keras_tf_trainer", "require_hooks",
           "retry_queue"]

# package -> (lowest tested, first untested) release: the range setup.cfg installs.
TESTED = {"keras": ("3.11.3", "3.16"), "keras-tuner": ("1.4.0", "1.5")}


class CompatError(ImportError):
    """An installed Keras or keras-tuner that tfopt was not tested with."""


def _release(text):
    """(3, 15, 1) from "3.15.1" (pre-release and local parts dropped)."""
    parts = []
    for part in text.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@functools.cache
def check_version(package):
    """The installed version of `package` (a key of `TESTED`).

    Raises:
        CompatError: when it is outside the tested range.
    """
    low, high = TESTED[package]
    installed = metadata.version(package)
    if not _release(low) <= _release(installed) < _release(high):
        raise CompatError(f"tfopt uses private parts of {package} that it was tested with "
                          f"for {package}>={low},<{high}; {package} {installed} is installed. "
                          f"Install a tested release: pip install '{package}>={low},<{high}'.")
    return installed


def _missing(package, what):
    return CompatError(f"{package} {metadata.version(package)} has no {what}, which tfopt "
                       f"uses; install a tested release: pip install "
                       f"'{package}>={TESTED[package][0]},<{TESTED[package][1]}'.")


def keras_tuner_private(module):
    """keras-tuner's private module `keras_tuner.src.<module>`."""
    check_version("keras-tuner")
    try:
        return importlib.import_module(f"keras_tuner.src.{module}")
    except ImportError as error:
        raise _missing("keras-tuner", f"module keras_tuner.src.{module}") from error


def keras_tf_trainer():
    """Keras' TensorFlow trainer module (`keras.src.backend.tensorflow.trainer`)."""
    check_version("keras")
    try:
        return importlib.import_module("keras.src.backend.tensorflow.trainer")
    except ImportError as error:
        raise _missing("keras", "module keras.src.backend.tensorflow.trainer") from error


def require_hooks(cls, *names):
    """Checks that keras-tuner's class `cls` still has the private methods `names` that a
    tfopt subclass overrides; returns `cls`."""
    check_version("keras-tuner")
    missing = [name for name in names if not hasattr(cls, name)]
    if missing:
        raise _missing("keras-tuner", f"{cls.__name__}.{', '.join(missing)}")
    return cls


def retry_queue(oracle):
    """The oracle's queue of trial ids to run again (keras-tuner's `Oracle._retry_queue`)."""
    check_version("keras-tuner")
    try:
        return oracle._retry_queue
    except AttributeError as error:
        raise _missing("keras-tuner", "Oracle._retry_queue") from error


def hyperband_rounds(oracle):
    """Hyperband's schedule, most aggressive bracket first: for each bracket a list of
    (trials, epochs) of its rounds (keras-tuner's private `_get_num_brackets`, ...)."""
    check_version("keras-tuner")
    names = ("_get_num_brackets", "_get_num_rounds", "_get_size", "_get_epochs")
    if not all(hasattr(oracle, name) for name in names):
        raise _missing("keras-tuner", "HyperbandOracle." + ", ".join(names))
    return [[(oracle._get_size(bracket, r), oracle._get_epochs(bracket, r))
             for r in range(oracle._get_num_rounds(bracket))]
            for bracket in reversed(range(oracle._get_num_brackets()))]


def set_hyperband_brackets(oracle, brackets):
    """Keeps the `brackets` least aggressive of Hyperband's brackets (through its public
    `min_epochs`, which its private `_get_num_brackets` reads) and starts over at the most
    aggressive of them. Only before the oracle's first trial."""
    check_version("keras-tuner")
    names = ("_get_num_brackets", "_start_new_bracket", "_brackets", "_current_bracket")
    if not all(hasattr(oracle, name) for name in names):
        raise _missing("keras-tuner", "HyperbandOracle." + ", ".join(names))
    # a hair under max_epochs / factor ** (brackets - 1), so that float division keeps it
    oracle.min_epochs = oracle.max_epochs / oracle.factor ** (brackets - 1) * (1 - 1e-9)
    oracle._current_bracket = oracle._get_num_brackets() - 1
    oracle._brackets = []
    oracle._start_new_bracket()


def is_chief_oracle():
    """Whether this process serves keras-tuner's oracle to workers."""
    return keras_tuner_private("distribute.utils").is_chief_oracle()


@contextlib.contextmanager
def keras_tuner_debug(value):
    """keras-tuner's `DEBUG` flag set to `value` for the duration (it decides whether a
    failing trial's traceback is printed)."""
    config = keras_tuner_private("config")
    if not hasattr(config, "DEBUG"):
        raise _missing("keras-tuner", "keras_tuner.src.config.DEBUG")
    before, config.DEBUG = config.DEBUG, value
    try:
        yield
    finally:
        config.DEBUG = before


def gradient_registry():
    """TensorFlow's registry of gradient functions (a dict), or None when TensorFlow is not
    loaded or keeps it elsewhere (TensorFlow's private `ops._gradient_registry`)."""
    ops = sys.modules.get("tensorflow.python.framework.ops")  # TensorFlow never imported: none
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None
