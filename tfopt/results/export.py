"""Exports of the final model, each checked on the test split: `.keras`, a TensorFlow
SavedModel for serving and, on request, TensorFlow Lite with post-training quantization.
Without TensorFlow (the JAX backend) only `.keras` is written."""

import pathlib
import tempfile
import warnings

import numpy as np

from tfopt.backend import has_tensorflow, notice
from tfopt.durable import remove_inside
from tfopt.errors import InputError
from tfopt.results.metrics import accuracy

# name -> (file, converter settings); dynamic-range int8 and float16 are
# TensorFlow Lite's post-training quantizations that need no calibration data.
TFLITE_VARIANTS = {
    "tflite float32": ("final_model.tflite", None),
    "tflite dynamic-range int8": ("final_model_int8.tflite", "dynamic"),
    "tflite float16": ("final_model_float16.tflite", "float16"),
}


def export_models(final, network, data, run_dir, *, formats=()):
    """Writes the exports and returns one row per export: format, path, bytes, test accuracy.

    `final` takes raw inputs (see `tfopt.results.final.with_preprocessing`) and is
    saved as `final_model.keras` and the SavedModel `saved_model/`; TensorFlow
    Lite files hold `network` (the same weights without the preprocessing), which
    takes preprocessed inputs (pixels scaled to [0, 1], or token ids from
    `vocabulary.txt`). Without TensorFlow the SavedModel is skipped (with a notice).

    Raises:
        InputError: for "tflite" without TensorFlow (see `check_exports`).
    """
    import keras

    from tfopt.results.final import predict_raw

    check_exports(formats)
    run_dir = pathlib.Path(run_dir)
    rows = []
    path = run_dir / "final_model.keras"
    final.save(path)
    reloaded = keras.models.load_model(path)
    rows.append(_row("keras", path, data.y_test, predict_raw(reloaded, data.raw_test)))
    path = run_dir / "saved_model"
    if has_tensorflow():
        final.export(str(path), verbose=False)
        rows.append(_row("saved_model", path, data.y_test, _serve(path, data.raw_test)))
    else:  # a resumed run's earlier SavedModel would be stale
        if path.exists() or path.is_symlink():
            remove_inside(run_dir, path)
        notice("TensorFlow is not installed: the final model is saved as final_model.keras "
               "only, without the TensorFlow SavedModel (pip install tensorflow to get it)")
    if data.modality == "text":
        (run_dir / "vocabulary.txt").write_text("\n".join(data.vocabulary) + "\n")
    if "tflite" not in formats:  # a resumed run's earlier exports would be stale
        for file_name, _ in TFLITE_VARIANTS.values():
            (run_dir / file_name).unlink(missing_ok=True)
    else:
        with tempfile.TemporaryDirectory() as saved:
            network.export(saved, verbose=False)
            for name, (file_name, quantization) in TFLITE_VARIANTS.items():
                path = run_dir / file_name
                path.write_bytes(_convert(saved, quantization))
                rows.append(_row(name, path, data.y_test,
                                 tflite_probabilities(path, data.x_test)))
    return rows


def check_exports(formats):
    """Raises InputError when an export in `formats` cannot be written here: TensorFlow
    Lite needs TensorFlow. Cheap; call it before a search to fail early."""
    if "tflite" in formats and not has_tensorflow():
        import keras

        raise InputError(
            f"The tflite export needs TensorFlow (its TensorFlow Lite converter), which is not "
            f"installed; received export={tuple(formats)!r} with the "
            f"{keras.backend.backend()} backend. Install TensorFlow (pip install tensorflow) "
            "or leave out the tflite export.")


def _row(name, path, y_true, probabilities):
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
        else path.stat().st_size
    return {"format": name, "path": path.name, "bytes": int(size),
            "test_accuracy": accuracy(y_true, probabilities)}


def _serve(path, raw, batch_size=256):
    """Probabilities from the SavedModel's `serve` endpoint, as a serving system would call it."""
    import tensorflow as tf

    from tfopt.results.final import raw_batches

    loaded = tf.saved_model.load(str(path))  # kept alive: `serve` references its variables
    return np.concatenate([loaded.serve(batch).numpy() for batch in raw_batches(raw, batch_size)])


def _convert(saved_model_dir, quantization):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def tflite_probabilities(path, x, batch_size=256):
    """Runs a TensorFlow Lite model over preprocessed inputs (uint8 images are scaled)."""
    import tensorflow as tf

    with warnings.catch_warnings():  # its successor (ai-edge-litert) is not a dependency
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    x = np.asarray(x)
    x = (x.astype("float32") / 255.0) if x.dtype == np.uint8 else x.astype(source["dtype"])
    outputs = []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        interpreter.resize_tensor_input(source["index"], list(chunk.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], chunk)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(target["index"]).copy())
    return np.concatenate(outputs)
