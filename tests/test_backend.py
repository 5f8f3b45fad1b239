"""Backend helpers, and what needs TensorFlow failing early with a clear error without it."""

import os
import sys

import numpy as np
import pytest

from tfopt import backend
from tfopt.errors import InputError


@pytest.fixture
def without_tensorflow(monkeypatch):
    """`import tensorflow` fails, as on a machine without it (restored afterwards)."""
    monkeypatch.setitem(sys.modules, "tensorflow", None)


def test_has_tensorflow_follows_whether_it_can_be_imported(without_tensorflow):
    assert backend.has_tensorflow() is False


@pytest.mark.parametrize("setting, expected", [("/tmp/x", "/tmp/x"), ("off", None), ("", None)])
def test_jax_cache_dir_follows_the_environment(monkeypatch, setting, expected):
    monkeypatch.setenv("TFOPT_JAX_CACHE", setting)
    folder = backend.jax_cache_dir()
    assert (None if folder is None else str(folder)) == expected


def test_jax_cache_dir_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("TFOPT_JAX_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert backend.jax_cache_dir() == tmp_path / "tfopt" / "jax"


def test_tflite_export_without_tensorflow_says_how_to_fix(without_tensorflow):
    from tfopt.results.export import check_exports

    check_exports(())
    with pytest.raises(InputError, match=r"tflite export needs TensorFlow.*pip install tensorflow"):
        check_exports(("tflite",))


def test_text_data_without_tensorflow_says_how_to_fix(without_tensorflow, tiny_text):
    from tfopt.data.text import vectorize

    with pytest.raises(InputError, match=r"TextVectorization.*KERAS_BACKEND=tensorflow"):
        vectorize(tiny_text, max_tokens=10, sequence_length=4)


def test_own_image_folder_without_tensorflow_says_how_to_fix(without_tensorflow, tmp_path):
    from PIL import Image

    from tfopt.data.user_data import load_user_data

    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name / "0.png")
    with pytest.raises(InputError, match=r"image data needs TensorFlow.*pip install tensorflow"):
        load_user_data(tmp_path)


@pytest.mark.parametrize("line, noise", [
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
     True),
    ("I0000 00:00:1796672907.203778   11136 cudart_stub.cc:31] Could not find cuda drivers on "
     "your machine, GPU will not be used.", True),
    ("E0000 00:00:1796672919.653531   11136 cuda_platform.cc:52] failed call to cuInit: "
     "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)", True),
    ("To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
     "with the appropriate compiler flags.", True),
    ("E0000 00:00:1.0   1 op_kernel.cc:1] OP_REQUIRES failed: out of memory", False),
    ("Traceback (most recent call last):", False),
])
def test_only_tensorflows_start_up_lines_are_noise(line, noise):
    assert backend.startup_noise(line) is noise


def test_tensorflow_loads_without_its_start_up_lines():
    import subprocess

    code = ("import sys; from tfopt.backend import import_tensorflow_quietly as quiet; "
            "assert quiet() and 'tensorflow' in sys.modules and not quiet()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
