"""TensorBoard logs written with TensorBoard's own event writer (no tf.summary), read back."""

import io

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tfopt.training import tensorboard_logs
from tfopt.training.tensorboard_logs import (HParams, TensorBoard, TrialLogs, read_scalars,
                                    tensorboard_callback, write_images, write_text)


def _tags(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def _tiny_fit(callbacks, epochs=2):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 3)).astype("float32"), rng.integers(0, 2, 32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_data=(x, y), epochs=epochs, batch_size=16, verbose=0,
              callbacks=callbacks)


def test_tf_free_callback_writes_keras_folders_and_epoch_tags(tmp_path):
    _tiny_fit([TensorBoard(tmp_path)], epochs=3)
    for part in ("train", "validation"):
        for tag in ("epoch_loss", "epoch_accuracy"):
            assert [step for step, _ in read_scalars(tmp_path / part, tag)] == [0, 1, 2]
    accuracy = [value for _, value in read_scalars(tmp_path / "validation", "epoch_accuracy")]
    assert all(0.0 <= value <= 1.0 for value in accuracy)
    assert read_scalars(tmp_path / "train", "epoch_learning_rate")[0][1] == pytest.approx(1e-3)
    assert read_scalars(tmp_path / "train", "batch_loss") == []  # per epoch only


def test_trial_logs_give_each_trial_a_folder_and_hparams_on_other_backends(tmp_path,
                                                                           monkeypatch):
    class Tuner(TrialLogs):
        pass

    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd"], default="sgd")
    hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    trial = kt.engine.trial.Trial(hp, trial_id="07")
    callbacks = [keras.callbacks.EarlyStopping(), TensorBoard(tmp_path)]
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    Tuner()._configure_tensorboard_dir(callbacks, trial, execution=0)
    monkeypatch.undo()
    assert callbacks[1].log_dir == str(tmp_path / "trial_07")  # TensorBoard's run name
    assert isinstance(callbacks[2], HParams)
    _tiny_fit(callbacks, epochs=1)
    run = tmp_path / "trial_07"
    assert read_scalars(run / "validation", "epoch_accuracy")
    assert {"_hparams_/session_start_info", "_hparams_/session_end_info"} <= set(
        _tags(run).Tags()["tensors"])
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = _tags(run).SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    values = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
    assert values["optimizer"].string_value == "sgd"
    assert values["learning_rate"].number_value == pytest.approx(1e-3)


def test_text_and_images_are_readable(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tensorboard.util import tensor_util

    write_text(tmp_path / "summary", "importance", "| hp | importance |\n|---|---|")
    text = _tags(tmp_path / "summary").Tensors("importance")[0]
    assert tensor_util.make_ndarray(text.tensor_proto).item().decode().startswith("| hp")
    figure, _ = plt.subplots(figsize=(2, 1), dpi=50)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    plt.close(figure)
    write_images(tmp_path / "final", {"confusion_matrix": png.getvalue()})
    image = _tags(tmp_path / "final").Tensors("confusion_matrix")[0]
    width, height, data = tensor_util.make_ndarray(image.tensor_proto)
    assert (int(width), int(height)) == (100, 50) and data == png.getvalue()


def test_without_tensorboard_a_notice_and_no_logs(tmp_path, monkeypatch, caplog):
    from tfopt.backend import notice

    notice.cache_clear()
    monkeypatch.setattr(tensorboard_logs, "has_tensorboard", lambda: False)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    callback = tensorboard_callback(tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(tensorboard_logs, "has_tensorboard", lambda: False)
    assert not isinstance(callback, keras.callbacks.TensorBoard)
    assert read_scalars(tmp_path, "epoch_loss") == []
    write_text(tmp_path, "t", "x")
    assert list(tmp_path.iterdir()) == []
    assert caplog.text.count("pip install tensorboard") == 1  # once
