"""SearchConfig: defaults from the task, clear errors, run folders never clobbered."""

import json

import pytest

from tfopt.config import SearchConfig
from tfopt.errors import InputError
from tfopt.data.tasks import search_defaults


def test_resolved_fills_the_task_defaults(tmp_path):
    config = SearchConfig(task="mr", out=str(tmp_path / "run")).resolved()
    assert (config.model, config.tuner, config.max_trials, config.epochs) == (
        "textcnn", "hyperband", None, None)
    assert config.with_search_defaults(8635).epochs == 27
    assert config.with_search_defaults(54000).max_trials == 13
    assert SearchConfig(task="digits").resolved().out.startswith("runs/digits-vgg-hyperband-")


def test_cross_validation_searches_at_random_unless_told_otherwise():
    assert SearchConfig(task="digits", cv=5).resolved().tuner == "random"
    assert SearchConfig(task="digits", cv=5, tuner="bayesian").resolved().tuner == "bayesian"
    assert SearchConfig(task="digits").resolved().cv is None


@pytest.fixture
def real_search_defaults(one_retraining, monkeypatch):
    """The product's search defaults (conftest's one_retraining changes their seeds)."""
    from tfopt.data import tasks

    monkeypatch.setattr(tasks, "SEARCH_DEFAULTS", one_retraining)


def test_budget_depends_on_data_size(real_search_defaults):
    assert search_defaults(3600) == (27, 40, None, 3)
    assert search_defaults(54000) == (9, 13, 1200.0, 1)


@pytest.mark.parametrize("kwargs, small, large", [
    ({}, 3, 1), (dict(seeds=2), 2, 2), (dict(ensemble=2), 1, 1), (dict(retrain=False), 1, 1),
    (dict(budget="5m"), 1, 1)])
def test_small_data_averages_three_retrainings_unless_told_otherwise(kwargs, small, large,
                                                                    real_search_defaults):
    config = SearchConfig(task="digits", **kwargs).resolved()
    assert config.with_search_defaults(1293).seeds == small
    assert config.with_search_defaults(54000).seeds == large


@pytest.mark.parametrize("kwargs, budget", [
    ({}, 1200.0), (dict(budget="5m"), 300.0), (dict(epochs=3), None), (dict(max_trials=4), None),
    (dict(cv=3), None), (dict(strategy="multi_worker"), None)])
def test_large_data_gets_a_default_budget_unless_the_search_is_sized_otherwise(kwargs, budget):
    config = SearchConfig(task="fashion_mnist", **kwargs).resolved()
    assert config.with_search_defaults(54000).budget == budget
    assert config.with_search_defaults(8635).budget == config.budget  # small data: none added


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="mnsit"), "Unknown task 'mnsit'. Known tasks: cifar10, digits, fashion_mnist, "
                         "imdb, mnist, mr. Did you mean 'mnist'?"),
    (dict(task="mr", model="vgg"), "Model 'vgg' is for image data but task 'mr' is text"),
    (dict(task="mnist", model="resnet"), "Unknown model 'resnet'"),
    (dict(task="mnist", tuner="hyperbnd"), "Did you mean 'hyperband'?"),
    (dict(task="mnist", max_trials=0), "max_trials must be a positive integer. Received: "
                                       "max_trials=0"),
    (dict(task="mnist", epochs=2.5), "epochs must be a positive integer"),
    (dict(task="mnist", seed=-1), "seed must be a non-negative integer"),
    (dict(task="mnist", strategy="gpu"), "Unknown strategy 'gpu'"),
    (dict(task="mnist", data_dir="/no/such/dir"), "Data directory '/no/such/dir' does not exist"),
    (dict(task="mnist", seeds=0), "seeds must be a positive integer. Received: seeds=0"),
    (dict(task="mnist", ensemble=True), "ensemble must be a positive integer"),
    (dict(task="mnist", export=("onnx",)), "Unknown export 'onnx'. Known exports: tflite."),
    (dict(task="mnist", cv=1), "cv must be at least 2 folds. Received: cv=1"),
    (dict(task="mnist", cv=5, tuner="hyperband"), "hyperband continues trials from checkpoints"),
    (dict(task="mnist", mixed_precision="yes"), "mixed_precision must be True, False or "
                                                "\"auto\""),
    (dict(task="digits", image_size=0), "image_size applies to your own data (data= or "
                                        "--data); task 'digits' is built in. Received: "
                                        "image_size=0. Remove it."),
    (dict(task="digits", text_column="review"), "text_column applies to your own data"),
    (dict(skip_bad=True), "skip_bad applies to your own data (data= or --data); task 'mnist'"),
])
def test_bad_settings_are_explained(kwargs, message):
    with pytest.raises(InputError) as error:
        SearchConfig(**kwargs).resolved()
    assert message in str(error.value)


def test_foreign_folder_is_never_written_into(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a tfopt run"):
        SearchConfig(task="digits", out=str(tmp_path)).resolved()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_run_of_another_search_is_not_resumed(tmp_path):
    SearchConfig(task="digits", out=str(tmp_path)).resolved().prepare_run_dir()
    assert json.loads((tmp_path / "config.json").read_text())["model"] == "vgg"
    with pytest.raises(InputError, match="holds a digits/vgg/hyperband run"):
        SearchConfig(task="digits", tuner="random", out=str(tmp_path)).resolved()
    SearchConfig(task="digits", out=str(tmp_path)).resolved()  # same search: resumable


def test_out_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        SearchConfig(task="digits", out=str(tmp_path / "f")).resolved()


def test_a_single_export_name_is_accepted_as_a_string():
    assert SearchConfig(task="digits", export="tflite").resolved().export == ("tflite",)


@pytest.mark.parametrize("name, value, files, message", [
    ("label_column", "y", {"cats/a.png": None, "dogs/b.png": None},
     "label_column names a column of a CSV/TSV/JSONL file"),
    ("image_size", 32, {"reviews.csv": "text,label\ngood,pos\nbad,neg\n"},
     "image_size resizes images; '{path}' holds text. Received: image_size=32"),
])
def test_own_data_options_that_do_not_apply_to_the_data_are_refused(tmp_path, name, value,
                                                                    files, message):
    import keras
    import numpy as np

    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            keras.utils.save_img(path, np.zeros((8, 8, 1), "uint8"), scale=False)
        else:
            path.write_text(text)
    data = tmp_path / "reviews.csv" if "reviews.csv" in files else tmp_path
    with pytest.raises(InputError) as error:
        SearchConfig(data=str(data), **{name: value}).resolved()
    assert message.format(path=data) in str(error.value)
