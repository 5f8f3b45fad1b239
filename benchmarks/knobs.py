"""Throughput of one training setting (the "knobs" table in RESULTS.md).

`python -m benchmarks.knobs SETTING` with SETTING one of: base (tfopt's pipeline, float32, and
defaults), bf16 (mixed_bfloat16), bs256 (batch 256), spe8 (steps_per_execution=8),
vec (index shuffle + batched gather) or numpy (`model.fit` on arrays). Default VGG,
first 12,800 Fashion-MNIST training images, 3 epochs; prints one JSON line with the
examples/second of epochs 2-3. Run each setting in its own process, interleaved.

`python -m benchmarks.knobs accuracy POLICY EPOCHS` (POLICY float32 or
mixed_bfloat16) trains the default VGG on all 54,000 training images for EPOCHS
epochs as a trial does and prints each epoch's seconds and validation accuracy,
and the test accuracy: bfloat16's effect on accuracy, not only on speed.
"""

import json
import sys

import keras
import keras_tuner as kt
import tensorflow as tf

from benchmarks.harness import EpochTimer
from tfopt.data.pipeline import batched, to_dataset
from tfopt.tuning.hypermodels import VGGHyperModel
from tfopt.data.tasks import get_task, load_data

SETTINGS = ("base", "bf16", "bs256", "spe8", "vec", "numpy")
SIZE = 12_800


def gathered(x, y, batch_size, seed=0):
    """Shuffled indices batched, then images gathered and scaled a batch at a time."""
    images, labels = tf.constant(x), tf.constant(y)
    return (tf.data.Dataset.range(len(y)).shuffle(len(y), seed=seed).batch(batch_size)
            .map(lambda rows: (tf.cast(tf.gather(images, rows), tf.float32) / 255.0,
                               tf.gather(labels, rows)), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def main(setting):
    if setting not in SETTINGS:
        raise SystemExit(f"unknown setting {setting!r}; one of {', '.join(SETTINGS)}")
    if setting == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    data = load_data(get_task("fashion_mnist"))
    x, y = data.x_train[:SIZE], data.y_train[:SIZE]
    hypermodel, hp = VGGHyperModel(data.input_shape, data.num_classes), kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    batch_size = hp.values["batch_size"] = 256 if setting == "bs256" else 128
    model = hypermodel.build(hp)
    if setting == "spe8":
        model.compile(optimizer=model.optimizer, loss=hypermodel.loss,
                      metrics=hypermodel.compile_metrics(), steps_per_execution=8)
    timer = EpochTimer()
    if setting == "numpy":
        model.fit(x.astype("float32") / 255.0, y, batch_size=batch_size, epochs=3, verbose=0,
                  callbacks=[timer])
    else:
        train = gathered(x, y, batch_size) if setting == "vec" else \
            batched(to_dataset(x, y, "image"), batch_size, shuffle=True, seed=0)
        model.fit(train, epochs=3, verbose=0, callbacks=[timer])
    steady = timer.durations[1:]
    print(json.dumps({"setting": setting, "first_epoch_seconds": round(timer.durations[0], 2),
                      "examples_per_second": round(SIZE * len(steady) / sum(steady))}))


def accuracy(policy, epochs):
    """Per-epoch seconds and val_accuracy, then test accuracy, of the default VGG in `policy`."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    data = load_data(get_task("fashion_mnist"))
    hypermodel = VGGHyperModel(data.input_shape, data.num_classes, shuffle_seed=0)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    model, timer = hypermodel.build(hp), EpochTimer()
    history = hypermodel.fit(hp, model, to_dataset(data.x_train, data.y_train, "image"),
                             validation_data=to_dataset(data.x_val, data.y_val, "image"),
                             epochs=epochs, callbacks=[timer], verbose=0)
    test = model.evaluate(batched(to_dataset(data.x_test, data.y_test, "image"), 256),
                          verbose=0, return_dict=True)
    print(json.dumps({"policy": policy, "epoch_seconds": [round(d, 1) for d in timer.durations],
                      "val_accuracy": [round(v, 4) for v in history.history["val_accuracy"]],
                      "test_accuracy": round(test["accuracy"], 4)}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["accuracy"]:
        accuracy(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "base")
