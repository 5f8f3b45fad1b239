"""The peers: plain keras-tuner and Keras code, written as their documentation shows.

Each function runs one side of a case in its own process (see `harness.run_side`)
on the same splits tfopt uses (`tfopt.data.tasks.load_data`), and returns a dict.
Harness instrumentation (`SearchClock`, `STEP_CLOCK`, `EpochTimer`, `TrialStats`)
only reads the clock; `SearchClock` also ends the search at its budget.
"""

import time

import keras
import keras_tuner as kt
from keras import layers

from benchmarks.harness import STEP_CLOCK, EpochTimer, SearchClock, Stopwatch, TrialStats
from tfopt.tuning.hypermodels import VGGHyperModel
from tfopt.models import build_textcnn, build_vgg
from tfopt.data.tasks import get_task, load_data

# Epochs of a peer trial when tuning; EarlyStopping usually ends trials earlier.
TUNING_EPOCHS = 20


def build_guide_model(hp):
    """keras-tuner's getting-started model (keras.io/guides/keras_tuner/getting_started),
    with integer labels (sparse loss) instead of the guide's one-hot ones."""
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(layers.Dense(units=hp.Int("units", min_value=32, max_value=512, step=32),
                           activation=hp.Choice("activation", ["relu", "tanh"])))
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def text_model_builder(sequence_length, vocab_size, num_classes):
    """A textbook Embedding + Conv1D sentence classifier's `build_model(hp)`."""

    def build_model(hp):
        model = keras.Sequential([
            keras.Input(shape=(sequence_length,), dtype="int32"),
            layers.Embedding(vocab_size, hp.Choice("embedding_dim", [64, 128])),
            layers.Conv1D(hp.Int("filters", 32, 256, step=32), 5, activation="relu"),
            layers.GlobalMaxPooling1D(),
            layers.Dense(hp.Int("units", 32, 256, step=32), activation="relu"),
            layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1)),
            layers.Dense(num_classes, activation="softmax"),
        ])
        learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build_model


class FactoryHyperModel(kt.HyperModel):
    """tfopt's VGG or TextCNN factory tuned the keras-tuner way: hp -> factory -> compile,
    and batch size tuned in `fit` (the guide's "Tune model training" section)."""

    def __init__(self, data):
        super().__init__()
        self.modality, self.input_shape = data.modality, data.input_shape
        self.num_classes, self.vocab_size = data.num_classes, len(data.vocabulary or ())

    def build(self, hp):
        if self.modality == "image":
            model = build_vgg(self.input_shape, self.num_classes,
                              blocks=hp.Int("blocks", 1, 3),
                              filters=hp.Choice("filters", [16, 32]),
                              dense_units=hp.Choice("dense_units", [64, 128, 256]),
                              dropout=hp.Float("dropout", 0.0, 0.5, step=0.1))
        else:
            model = build_textcnn(self.input_shape[0], self.vocab_size, self.num_classes,
                                  embedding_dim=hp.Choice("embedding_dim", [128, 300]),
                                  filters=hp.Choice("filters", [50, 100, 200]),
                                  dropout=hp.Float("dropout", 0.3, 0.6, step=0.1))
        learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        sizes = [32, 64, 128, 256] if self.modality == "image" else [32, 50, 64, 128]
        return model.fit(*args, batch_size=hp.Choice("batch_size", sizes), **kwargs)


class TimedRandomSearch(TrialStats, kt.RandomSearch):
    """keras-tuner's `RandomSearch`, plus the harness's per-trial timing and memory."""


def _arrays(data):
    """The splits as a user feeds them to `fit`: images as float32 in [0, 1], token ids as are."""
    def scale(x):
        return x.astype("float32") / 255.0 if data.modality == "image" else x

    return (scale(data.x_train), data.y_train, scale(data.x_val), data.y_val,
            scale(data.x_test), data.y_test)


def tuning(task, budget, out, target, seed=0):
    """RandomSearch over the getting-started model (images) or the Embedding + Conv1D
    model (text) for `budget` seconds from the start of loading the data; returns the
    best model's test accuracy, trials, wall seconds and seconds to `target` val_accuracy."""
    watch = Stopwatch(budget=budget, target=target)
    keras.utils.set_random_seed(seed)
    data = load_data(get_task(task))
    x_train, y_train, x_val, y_val, x_test, y_test = _arrays(data)
    build = build_guide_model if data.modality == "image" else text_model_builder(
        data.input_shape[0], len(data.vocabulary), data.num_classes)
    # max_trials is lowered to the trials so far by SearchClock at the deadline.
    tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=10_000, seed=seed,
                            directory=out, project_name="peer", overwrite=True)
    watch.oracle = tuner.oracle
    # Our choice for the peer: EarlyStopping on val_loss with patience 3 (the keras-tuner
    # docs' advice) and at most TUNING_EPOCHS epochs a trial, fit's default batch size 32.
    tuner.search(x_train, y_train, epochs=TUNING_EPOCHS, validation_data=(x_val, y_val),
                 callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=3),
                            SearchClock(watch)], verbose=0)
    searched = watch.elapsed()
    best = tuner.get_best_models(num_models=1)[0]
    _, test_accuracy = best.evaluate(x_test, y_test, verbose=0)
    statuses = [trial.status for trial in tuner.oracle.trials.values()]
    return {"test_accuracy": float(test_accuracy), "trials_run": len(statuses),
            "trials_completed": statuses.count("COMPLETED"),
            "time_to_target": watch.reached, "deadline_stop_at": watch.stopped,
            "search_seconds": round(searched, 1), "wall_seconds": round(watch.elapsed(), 1),
            "best_hyperparameters": tuner.get_best_hyperparameters(1)[0].values}


def throughput(size, epochs, seed=0):
    """`model.fit(x, y, batch_size=128)` on float32 arrays of the first `size` Fashion-MNIST
    training images, with tfopt's default VGG compiled as tfopt compiles it."""
    keras.utils.set_random_seed(seed)
    data = load_data(get_task("fashion_mnist"))
    x, y = data.x_train[:size].astype("float32") / 255.0, data.y_train[:size]
    model = VGGHyperModel(data.input_shape, data.num_classes).build(kt.HyperParameters())
    timer = EpochTimer()
    model.fit(x, y, batch_size=128, epochs=epochs, callbacks=[timer], verbose=0)
    return {"examples": len(y), "epoch_seconds": [round(s, 3) for s in timer.durations]}


def trials(task, trials, out, seed=0):
    """A RandomSearch of `trials` one-epoch trials over tfopt's model factory for `task`;
    returns per-trial stats like tfopt's trial_stats.json, and the wall seconds."""
    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    data = load_data(get_task(task))
    x_train, y_train, x_val, y_val, _, _ = _arrays(data)
    tuner = TimedRandomSearch(FactoryHyperModel(data), objective="val_accuracy",
                              max_trials=trials, seed=seed, directory=out, project_name="peer",
                              overwrite=True)
    tuner.search(x_train, y_train, epochs=1, validation_data=(x_val, y_val),
                 callbacks=[STEP_CLOCK], verbose=0)
    return {"trial_stats": tuner.trial_stats, "wall_seconds": round(time.monotonic() - started, 1)}
