"""Backend setup: JAX's persistent compilation cache, and whether TensorFlow is there.

With `KERAS_BACKEND=jax` tfopt runs image searches without TensorFlow (NumPy input
pipelines, TensorBoard's own event writer); `has_tensorflow()` picks the path.
"""

import functools
import importlib.util
import os
import pathlib
import re
import sys
import tempfile

__all__ = ["configure_backend", "has_tensorflow", "import_tensorflow_quietly", "jax_cache_dir",
           "notice", "startup_noise"]

JAX_CACHE_ENV = "TFOPT_JAX_CACHE"  # a folder, or "off"


def has_tensorflow():
    """Whether `import tensorflow` can succeed (checked without importing it)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"] is not None
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # blocked, or a stub without a spec
        return False


# What TensorFlow's C++ side writes to stderr when it loads on a machine without CUDA: absl's
# pre-initialisation notice, glog-style INFO/WARNING lines, the failed cuInit, the CPU
# instructions it was not built for. Other lines are kept.
_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|"
                    r"[IW]\d{4} |E\d{4} .*(cuInit|CUDA|cuda|cuDNN|cuFFT|cuBLAS)|"
                    r"To enable the following instructions)")


def startup_noise(line):
    """Whether `line` of TensorFlow's start-up output is noise a user need not see."""
    return bool(_NOISE.match(line))


def import_tensorflow_quietly():
    """Imports TensorFlow and lists its devices (where CUDA is initialised) with the C++
    start-up lines (`startup_noise`) held back; anything else it wrote goes to stderr.
    Nothing is held back when the user set `TF_CPP_MIN_LOG_LEVEL` below 2 (they asked for
    the lines), when TensorFlow is loaded already, is not installed or is not Keras'
    backend (it then loads only if something asks for it).

    Returns:
        whether TensorFlow was imported here.
    """
    if "tensorflow" in sys.modules or not has_tensorflow() or \
            os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or \
            os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") != "2":
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        kept = [line for line in held.read().decode(errors="replace").splitlines()
                if not startup_noise(line)]
    if kept:
        sys.stderr.write("\n".join(kept) + "\n")
    return True


def jax_cache_dir():
    """JAX's persistent compilation cache folder: `$TFOPT_JAX_CACHE`, else
    `$XDG_CACHE_HOME/tfopt/jax` (`~/.cache/tfopt/jax`); None when set to "off"."""
    chosen = os.environ.get(JAX_CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "0", "off", "none") \
            else pathlib.Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(cache) / "tfopt" / "jax"


def configure_backend():
    """Speed settings of the Keras backend; call once before building models.

    JAX: compiled train/eval steps go to a persistent compilation cache
    (`jax_cache_dir()`), so later trials and later runs with the same shapes
    load them instead of compiling again. A cache folder you set yourself
    (`JAX_COMPILATION_CACHE_DIR` or `jax.config`) is kept.

    Returns:
        the backend name ("jax", "tensorflow", "torch" or "numpy").
    """
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        folder = jax_cache_dir()
        if folder is not None and not jax.config.jax_compilation_cache_dir:
            folder.mkdir(parents=True, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", str(folder))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return backend


@functools.cache
def notice(message):
    """Warns `message` once per process (what is skipped, and how to get it)."""
    from tfopt.log import logger

    logger.warning(message)
