"""`tfopt.load`: a finished run comes back whole; anything else is a clear error."""

import json
import shutil

import numpy as np
import pytest

import tfopt
from tfopt.errors import InputError


def test_load_returns_model_hyperparameters_and_results(finished_run):
    loaded = tfopt.load(finished_run.run_dir)
    assert loaded.results == finished_run.results
    assert loaded.best_hyperparameters == finished_run.results["best_hyperparameters"]
    x = np.full((2, 8, 8, 1), 128, "uint8")  # raw pixels: the model scales them itself
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0),
                               finished_run.model.predict(x, verbose=0), rtol=1e-5)


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        tfopt.load(tmp_path / "nope")


def test_interrupted_search_says_how_to_resume(finished_run, tmp_path):
    copy = tmp_path / "interrupted"
    shutil.copytree(finished_run.run_dir, copy)
    (copy / "results.json").unlink()
    with pytest.raises(InputError, match="did not finish; run the same `tfopt search`"):
        tfopt.load(copy)
    with pytest.raises(InputError, match="not a tfopt run folder"):
        tfopt.load(tmp_path)


def test_unknown_format_is_rejected(finished_run, tmp_path):
    copy = tmp_path / "future"
    shutil.copytree(finished_run.run_dir, copy)
    results = json.loads((copy / "results.json").read_text())
    results["format"] = 99
    (copy / "results.json").write_text(json.dumps(results))
    with pytest.raises(InputError, match="has format 99; this tfopt reads format 2"):
        tfopt.load(copy)


@pytest.mark.parametrize("kind", ["hdf5", "pickle", "link"])
def test_a_model_file_that_is_not_a_keras_archive_is_refused(finished_run, tmp_path, kind):
    copy = tmp_path / "swapped"
    shutil.copytree(finished_run.run_dir, copy)
    model = copy / "final_model.keras"
    model.unlink()
    if kind == "hdf5":
        model.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    elif kind == "pickle":
        model.write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n(S'true'\ntR.")
    else:
        model.symlink_to(finished_run.run_dir / "final_model.keras")
    with pytest.raises(InputError, match="is not a .keras archive .* tfopt loads only"):
        tfopt.load(copy)


def test_keras_older_than_the_safe_mode_fixes_is_refused(finished_run, monkeypatch):
    import keras

    monkeypatch.setattr(keras, "__version__", "3.10.0")
    with pytest.raises(InputError, match=r"Keras 3.10.0 is installed; .* Keras >= 3.11.3"):
        tfopt.load(finished_run.run_dir)
