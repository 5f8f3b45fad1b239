"""Backend helpers, and what needs TensorFlow failing early with a clear error without it."""

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
