"""Fine-tuning a finished run's network on new data (`--init-from RUN_DIR`).

The source run's trained network is the backbone; its classifier is replaced
by a new one for the new classes. How many of its blocks stay frozen and the
fine-tuning learning rate are hyperparameters. The same architecture trained
from scratch on the new data is the baseline the report compares against.
"""

import re

import keras
import numpy as np

from tfopt.choices import CLASSIFIER
from tfopt.tuning.hypermodels import FamilyHyperModel



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
        if layer.weights and layer.name != CLASSIFIER and block_of(layer.name) not in names:
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
    | learning_rate | float | 1e-4 .. 1e-2, log          | 1e-3            |
    | batch_size    | int   | 32, 64, 128                | 64              |
    | lr_schedule   | str   | constant, cosine           | constant        |

    Every trial starts from the source's trained weights; frozen blocks (from
    the input on) keep them, and their batch normalization runs in inference mode.
    """

    factory = None
    batch_sizes = (32, 64, 128)
    default_batch_size = 64
    learning_rates = (1e-4, 1e-2, 1e-3)

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
        outputs = keras.layers.Dense(self.num_classes, activation="softmax", name=CLASSIFIER)(
            backbone.get_layer(CLASSIFIER).input)
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
