"""Fine-tuning a finished run's network: blocks, frozen layers, pretrained weights, a run."""

import json

import keras_tuner as kt
import numpy as np
import pytest

import tfopt
from tfopt.data.splits import Splits
from tfopt.tuning.finetune import FineTuneHyperModel, blocks, match_channels
from tfopt.models import build_textcnn, build_transformer, build_vgg


def test_blocks_group_layers_by_name():
    assert blocks(build_vgg((8, 8, 1), 3, blocks=2)) == ["block1", "block2", "fc"]
    assert blocks(build_textcnn(12, 50, 2)) == ["embedding", "conv"]
    assert blocks(build_transformer(12, 50, 2, num_blocks=2)) == ["embedding", "block1", "block2"]


def test_every_trial_starts_from_the_pretrained_weights_with_frozen_blocks():
    network = build_vgg((8, 8, 1), 10, blocks=2)
    trained = network.get_layer("block1_conv1").get_weights()[0]
    hypermodel = FineTuneHyperModel(network, 4)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert hp.values["frozen_blocks"] == 2 and hp.values["learning_rate"] == 1e-3
    model = hypermodel.build(hp)
    assert model.output_shape == (None, 4)
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], trained)
    trainable = {layer.name: layer.trainable for layer in model.layers if layer.weights}
    assert not trainable["block1_conv1"] and not trainable["block2_bn1"]
    assert trainable["fc"] and trainable["predictions"]
    model.fit(np.random.rand(8, 8, 8, 1), np.arange(8) % 4, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("block1_conv1").get_weights()[0], trained)
    hp.values["frozen_blocks"] = 0  # the next trial: nothing frozen, weights pretrained again
    again = hypermodel.build(hp)
    assert all(layer.trainable for layer in again.layers)
    np.testing.assert_array_equal(again.get_layer("block1_conv1").get_weights()[0], trained)


def test_channels_are_converted_both_ways():
    x = np.full((2, 4, 4, 1), 100, np.uint8)
    splits = Splits(x, np.zeros(2, "int32"), x, np.zeros(2, "int32"), x, np.zeros(2, "int32"),
                    class_names=["a", "b"], source="s", modality="image")
    assert "from 1 to 3" in match_channels(splits, 3)
    assert splits.x_train.shape == (2, 4, 4, 3) and splits.x_test[0, 0, 0].tolist() == [100] * 3
    match_channels(splits, 1)
    assert splits.x_val.shape == (2, 4, 4, 1) and splits.x_val.max() == 100
    assert match_channels(splits, 1) is None


def test_init_from_a_finished_run_fine_tunes_and_compares_with_scratch(finished_run, tmp_path):
    from tfopt.data.images import load_digits

    digits = load_digits()  # a new 3-class problem: is it a 0, a 1, or something else?
    y = np.minimum(np.concatenate([digits.y_train, digits.y_val]), 2)
    x = np.concatenate([digits.x_train, digits.x_val])[..., 0]
    np.savez(tmp_path / "new.npz", x=x, y=y)
    result = tfopt.search(data=str(tmp_path / "new.npz"), init_from=str(finished_run.run_dir),
                          tuner="random", max_trials=2, epochs=2, out=str(tmp_path / "ft"),
                          verbose=0)
    comparison = result.results["init_from"]
    assert comparison["source_task"] == "digits" and comparison["source_model"] == "vgg"
    assert comparison["blocks"][-1] == "fc"
    assert 0 <= comparison["frozen_blocks"] <= len(comparison["blocks"])
    assert 0.4 < comparison["test_accuracy"] <= 1.0 and 0.0 < comparison["scratch"]["test_accuracy"]
    assert "learning_rate" in result.best_hyperparameters.values
    report = (result.run_dir / "report.md").read_text()
    assert "vs from scratch" in report
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["init_from"] == str(finished_run.run_dir.resolve())


def test_init_from_checks_the_source_before_training(finished_run, tmp_path):
    with pytest.raises(ValueError, match="is a run on image data; mr is text"):
        tfopt.search("mr", init_from=str(finished_run.run_dir), out=str(tmp_path / "x"))
    with pytest.raises(ValueError, match="does not combine with a custom model or space"):
        tfopt.search("digits", space={"dropout": 0.3}, init_from=str(finished_run.run_dir),
                     out=str(tmp_path / "y"))
    with pytest.raises(ValueError, match="has no results.json"):
        tfopt.search("digits", init_from=str(tmp_path), out=str(tmp_path / "z"))
    assert not (tmp_path / "x").exists()
