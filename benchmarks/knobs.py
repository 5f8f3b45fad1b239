"""Throughput of one training setting (the "knobs" table in RESULTS.md).

`python -m benchmarks.knobs SETTING` with SETTING one of: base (tfopt's pipeline and
defaults), bf16 (mixed_bfloat16), bs256 (batch 256), spe8 (steps_per_execution=8),
vec (index shuffle + batched gather) or numpy (`model.fit` on arrays). Default VGG,
first 12,800 Fashion-MNIST training images, 3 epochs; prints one JSON line with the
examples/second of epochs 2-3. Run each setting in its own process, interleaved.
"""

import json
import sys

import keras
import keras_tuner as kt
import tensorflow as tf

from benchmarks.harness import EpochTimer
from tfopt.data.pipeline import batched, to_dataset
from tfopt.hypermodels import VGGHyperModel
from tfopt.tasks import get_task, load_data

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


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "base")
