"""tfopt: tune Keras models on built-in tasks, with TensorBoard and a result you can act on."""

__version__ = "0.1.0"  # first: modules read it with `from tfopt import __version__`

from tfopt.data.tasks import TASKS  # noqa: E402

__all__ = ["LoadedRun", "SearchResult", "TASKS", "load", "search", "__version__"]


def __getattr__(name):
    # TensorFlow loads on first use, so `tfopt tasks` and bad-input errors stay instant.
    if name in ("search", "SearchResult", "load", "LoadedRun"):
        from tfopt.backend import import_tensorflow_quietly

        import_tensorflow_quietly()  # without its C++ start-up lines
    if name in ("search", "SearchResult"):
        from tfopt import runner

        return getattr(runner, name)
    if name in ("load", "LoadedRun"):
        from tfopt.results import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'tfopt' has no attribute '{name}'")
