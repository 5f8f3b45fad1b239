"""Exports of the final model: each file exists, reloads and scores what the report says."""

import numpy as np
import pytest

from tfopt.results.export import tflite_probabilities


def _exports(run):
    return {row["format"]: row for row in run.results["exports"]}


def test_every_export_is_written_with_its_size(finished_run):
    exports = _exports(finished_run)
    assert list(exports) == ["keras", "saved_model", "tflite float32",
                             "tflite dynamic-range int8", "tflite float16"]
    for row in exports.values():
        path = finished_run.run_dir / row["path"]
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
            else path.stat().st_size
        assert row["bytes"] == size > 0


def test_keras_and_saved_model_score_exactly_the_final_accuracy(finished_run):
    exports = _exports(finished_run)
    assert exports["keras"]["test_accuracy"] == pytest.approx(finished_run.results["test_accuracy"])
    assert exports["saved_model"]["test_accuracy"] == pytest.approx(
        finished_run.results["test_accuracy"])


def test_saved_model_serves_raw_images(finished_run, digits_data):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(finished_run.run_dir / "saved_model"))
    served = loaded.serve(tf.constant(digits_data.x_test[:50].astype("float32"))).numpy()
    np.testing.assert_allclose(served, finished_run.model.predict(digits_data.x_test[:50],
                                                                  verbose=0),
                               rtol=1e-4, atol=1e-6)


def test_tflite_accuracies_recompute_and_quantization_shrinks(finished_run, digits_data):
    exports = _exports(finished_run)
    for name, row in exports.items():
        if name.startswith("tflite"):
            p = tflite_probabilities(finished_run.run_dir / row["path"], digits_data.x_test)
            assert np.mean(p.argmax(axis=1) == digits_data.y_test) == pytest.approx(
                row["test_accuracy"])
            assert abs(row["test_accuracy"] - exports["keras"]["test_accuracy"]) <= 0.02
    assert exports["tflite dynamic-range int8"]["bytes"] < exports["tflite float32"]["bytes"] / 2.5
    assert exports["tflite float16"]["bytes"] < exports["tflite float32"]["bytes"] * 0.6
