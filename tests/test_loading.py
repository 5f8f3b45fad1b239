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
