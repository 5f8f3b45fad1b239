"""Fine-tuning a finished run's network on new data (`--init-from RUN_DIR`).

The source run's trained network is the backbone; its classifier is replaced
by a new one for the new classes. How many of its blocks stay frozen and the
fine-tuning learning rate are hyperparameters. The same architecture trained
from scratch on the new data is the baseline the report compares against.
"""

import dataclasses
import re
import time

import keras
import keras_tuner as kt
import numpy as np

from tfopt.data.pipeline import to_dataset
from tfopt.errors import InputError
from tfopt.results.final import predict_probabilities, retrain
from tfopt.tuning.hypermodels import FamilyHyperModel, make_hypermodel

HEAD = "predictions"


@dataclasses.dataclass
class Source:
    """The finished run fine-tuning starts from: its trained `network` (no preprocessing)
    and the `run` as `tfopt.load` returns it."""

    network: keras.Model
    run: object


def load_source(run_dir):
    """The `Source` of `--init-from RUN_DIR`. An ensemble's best member (its first)
    stands for it.

    Raises:
        InputError: if `run_dir` is not a finished run, or its network has no
            `predictions` classifier to replace (e.g. a custom model).
    """
    from tfopt.results.loading import load

    run = load(run_dir)
    network = next(layer for layer in run.model.layers if isinstance(layer, keras.Model))
    if network.name == "ensemble":
        network = next(layer for layer in network.layers if isinstance(layer, keras.Model))
    if HEAD not in [layer.name for layer in network.layers]:
        raise InputError(f"--init-from {run_dir}: its network '{network.name}' has no "
                         f"'{HEAD}' layer to replace; fine-tuning needs a run of a tfopt "
                         "family (vgg, textcnn, transformer).")
    return Source(network, run)


def source_vocabulary(source):
    """For a text source, `load_data` keyword arguments that tokenize new texts the way the
    source network was trained: its vocabulary and sequence length. Else {}."""
    if source is None or source.run.results["modality"] != "text":
        return {}
    return {"vocabulary": source.run.model.get_layer("tokenize").get_vocabulary(),
            "sequence_length": source.network.input_shape[1]}


def blocks(network):
    """Names of the network's blocks with weights, input first, the classifier left out:
    layers are grouped by their name's first part (block1_conv1 -> block1, conv3 -> conv)."""
    names = []
    for layer in network.layers:
        if layer.weights and layer.name != HEAD and block_of(layer.name) not in names:
            names.append(block_of(layer.name))
    return names


def block_of(layer_name):
    """The block a layer belongs to, by name: block1_conv1 -> block1, conv3 -> conv."""
    first = layer_name.split("_")[0]
    return first if first.startswith("block") else re.sub(r"\d+$", "", first)


class FineTuneHyperModel(FamilyHyperModel):
    """Search space of fine-tuning a trained network on new classes.

    | hp            | type  | range                      | default         |
    |---------------|-------|----------------------------|-----------------|
    | frozen_blocks | int   | 0 .. number of blocks      | all but the last |
    | optimizer     | str   | adam, adamw, sgd, rmsprop  | adam            |
    | learning_rate | float | 1e-5 .. 1e-3, log          | 1e-4            |
    | batch_size    | int   | 32, 64, 128                | 64              |

    Every trial starts from the source's trained weights; frozen blocks (from
    the input on) keep them, and their batch normalization runs in inference mode.
    """

    factory = None
    batch_sizes = (32, 64, 128)
    default_batch_size = 64
    learning_rates = (1e-5, 1e-3, 1e-4)

    def __init__(self, network, num_classes, **kwargs):
        self.network = network
        self.pretrained = network.get_weights()
        self.blocks = blocks(network)
        super().__init__(network.input_shape[1:], num_classes, name="finetune", **kwargs)

    def model_kwargs(self, hp):
        count = len(self.blocks)
        return {"frozen_blocks": hp.Int("frozen_blocks", 0, count, default=max(count - 1, 0))}

    def build_model(self, hp):
        frozen = set(self.blocks[:self.model_kwargs(hp)["frozen_blocks"]])
        backbone = keras.models.clone_model(self.network)
        backbone.set_weights(self.pretrained)
        for layer in backbone.layers:
            layer.trainable = block_of(layer.name) not in frozen
        outputs = keras.layers.Dense(self.num_classes, activation="softmax", name=HEAD)(
            backbone.get_layer(HEAD).input)
        return keras.Model(backbone.input, outputs, name=f"{self.network.name}_finetuned")


def match_channels(splits, channels):
    """Converts the image splits to `channels` (1 or 3) with `tf.image`'s grey/RGB
    conversions. Returns a note, or None when nothing changed."""
    import tensorflow as tf

    have = splits.input_shape[-1]
    if have == channels:
        return None
    convert = tf.image.grayscale_to_rgb if channels == 3 else tf.image.rgb_to_grayscale
    for part in ("train", "val", "test"):
        setattr(splits, f"x_{part}", convert(tf.constant(getattr(splits, f"x_{part}"))).numpy())
    return f"converted images from {have} to {channels} channel(s) to match the source network"


def match_images(splits, shape):
    """Resizes and converts the image splits to the source network's `(h, w, c)` input.
    Returns notes of what changed."""
    import tensorflow as tf

    notes = []
    if splits.input_shape[:2] != tuple(shape[:2]):
        notes.append(f"resized images from {splits.input_shape[0]}x{splits.input_shape[1]} to "
                     f"{shape[0]}x{shape[1]} to match the source network")
        for part in ("train", "val", "test"):
            x = tf.image.resize(getattr(splits, f"x_{part}"), shape[:2], antialias=True)
            setattr(splits, f"x_{part}", np.round(x.numpy()).clip(0, 255).astype(np.uint8))
    note = match_channels(splits, shape[2])
    return notes + ([note] if note else [])


def train_from_scratch(run, data, *, epochs, seed, loss, metrics, verbose=0):
    """The source's architecture and best hyperparameters, randomly initialised and trained on
    the new data's train+validation for `epochs`: the baseline fine-tuning must beat.

    Returns:
        {"epochs", "test_accuracy", "seconds"}.
    """
    started = time.time()
    hypermodel = make_hypermodel(run.results["model"], data, loss=loss, metrics=metrics)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    hp.values.update(run.best_hyperparameters)
    train_val = to_dataset(np.concatenate([data.x_train, data.x_val]),
                           np.concatenate([data.y_train, data.y_val]), data.modality)
    model = retrain(hypermodel, hp, train_val, epochs=epochs, seed=seed, verbose=verbose)
    probabilities = predict_probabilities(model, data.x_test, data.y_test)
    return {"epochs": epochs,
            "test_accuracy": float(np.mean(probabilities.argmax(axis=1) == data.y_test)),
            "seconds": round(time.time() - started, 1)}
