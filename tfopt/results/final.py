"""The final model: the best trials retrained on train+validation for their best
epoch count, optionally averaged into one ensemble model, with the run's
preprocessing built in so that raw images or raw strings go in."""

import json
import pathlib
import time
import warnings

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner.engine.tuner import maybe_distribute

from tfopt.data.pipeline import batched, to_dataset
from tfopt.durable import remove_inside
from tfopt.errors import SearchError
from tfopt.models.raw_input import RawInputModel
from tfopt.results.loading import ensemble_label
from tfopt.results.metrics import accuracy
from tfopt.tuning.recovery import failed_trials_summary
from tfopt.training.tensorboard_logs import tensorboard_callback
from tfopt.tuning.hypermodels import make_hypermodel
from tfopt.tuning.tuners import best_epochs, tuned_values
from tfopt.log import logger


def top_trials(oracle, k):
    """The `k` best completed trials with distinct hyperparameters.

    Hyperband continues a trial under a new id with the same values; the
    better of the two stands for both.
    """
    picked, seen = [], set()
    for trial in oracle.get_best_trials(len(oracle.trials)):
        key = json.dumps(tuned_values(trial.hyperparameters), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            picked.append(trial)
        if len(picked) == k:
            break
    return picked


def member_epochs(trial, best):
    """Epochs to retrain an ensemble member: its own best epoch, unless Hyperband's budget
    cut the trial off while it was still improving (best epoch = its last); then at
    least the best trial's."""
    epochs = best_epochs(trial)
    budget = trial.hyperparameters.values.get("tuner/epochs")
    if budget is not None and epochs >= budget:
        return max(epochs, best_epochs(best))
    return epochs


def retrain(hypermodel, hp, train_val, *, epochs, seed, distribution=None, callbacks=(),
            verbose=0):
    """A fresh model of `hp`, seeded with `seed`, trained on the unbatched `train_val`."""
    keras.utils.set_random_seed(seed)
    with maybe_distribute(distribution):
        model = hypermodel.build(hp)
    train = batched(train_val, hypermodel.batch_size(hp), shuffle=True, seed=seed)
    hypermodel.fit_batched(hp, model, train, epochs=epochs, callbacks=list(callbacks),
                           verbose=verbose)
    return model


def average(models, names, name="ensemble"):
    """One model called `name` with a shared input whose output is the mean of the members'
    probabilities.

    Saves and reloads as a single `.keras` file; `names` name the members.
    """
    if len(models) == 1:
        return models[0]
    first = models[0].inputs[0]
    inputs = keras.Input(first.shape[1:], dtype=first.dtype, name="inputs")
    # `inputs`, not `input`: a Sequential that was never called (a checkpoint loaded by
    # keras-tuner) has no `input` yet
    members = [keras.Model(m.inputs[0], m.outputs[0], name=name) for m, name in zip(models, names)]
    outputs = keras.layers.Average(name="mean_probabilities")([m(inputs) for m in members])
    return keras.Model(inputs, outputs, name=name)


def without_augmentation(network):
    """A float32 copy of `network` (same weights) with its random augmentation layers
    replaced by identities. Keras keeps their random ops in the inference graph: an
    exported SavedModel would augment at serving time, and TensorFlow Lite cannot run
    them (nor bfloat16 ops: a mixed-precision network's variables are float32 already)."""
    def clone(layer):
        if layer.__class__.__name__.startswith("Random"):
            return keras.layers.Identity(name=layer.name)
        config = layer.get_config()
        if "dtype" in config:
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(network, clone_function=clone, recursive=True)
    copy.set_weights(network.get_weights())
    return copy


def with_preprocessing(network, data):
    """`network` behind the run's own preprocessing: raw uint8/float images of any size
    (resized, scaled to [0, 1]; of any rank and channel count its `predict` converts,
    `RawInputModel`) or raw strings (tokenized with the run's vocabulary)."""
    if data.modality == "image":
        height, width, channels = data.input_shape
        inputs = keras.Input((None, None, channels), name="image")
        x = keras.layers.Resizing(height, width, name="resize")(inputs)
        x = keras.layers.Rescaling(1.0 / 255, name="scale")(x)
    else:
        inputs = keras.Input((), dtype="string", name="text")
        x = keras.layers.TextVectorization(
            vocabulary=data.vocabulary, output_sequence_length=data.input_shape[0],
            name="tokenize")(inputs)
    # training=False is part of the graph: the final model never runs dropout or
    # batch statistics, however it is called (a served SavedModel passes no `training`).
    return RawInputModel(inputs, network(x, training=False), name="final_model")


def predict_probabilities(model, x, y, batch_size=256):
    """Class probabilities of a network on preprocessed split arrays (scaled like training data)."""
    modality = "image" if x.dtype == np.uint8 else "text"
    return model.predict(batched(to_dataset(x, y, modality), batch_size), verbose=0)


def raw_batches(raw, batch_size=256):
    """Raw inputs (strings, or images as float32) batched for a `with_preprocessing` model:
    a `tf.data.Dataset`, or without TensorFlow an `ArrayBatches` (images only)."""
    from tfopt.backend import has_tensorflow
    from tfopt.data.pipeline import ArrayBatches, ArrayDataset

    raw = np.asarray(raw)
    raw = raw if raw.dtype.kind in "USO" else raw.astype("float32")
    if not has_tensorflow():
        return ArrayBatches(ArrayDataset(raw), batch_size)
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(raw).batch(batch_size)


def predict_raw(model, raw, batch_size=256):
    """Class probabilities of a `with_preprocessing` model on raw inputs."""
    return model.predict(raw_batches(raw, batch_size), verbose=0)


def finalize(tuner, hypermodel, data, *, retrain_best=True, seeds=1, ensemble=1, seed=0,
             average_checkpoint=True, log_dir=None, verbose=1, checkpoint_data="train"):
    """Builds the run's final model and evaluates every candidate on the test split.

    The best trial's keras-tuner checkpoint (trained on `checkpoint_data`: the training
    split, or with cross-validation the last fold's training part) is always
    evaluated. With `retrain_best`, the best trial's hyperparameters are
    retrained on train+validation for its best epoch count with `seeds`
    seeds (`seed`, `seed + 1`, ...), all averaged; with `ensemble` K > 1 the K best
    distinct trials are retrained too and averaged. Without retraining, the ensemble
    averages the trials' checkpoints. With one configuration, `average_checkpoint`
    adds the best trial's checkpoint to the average: one more model of the same
    configuration, for no more training.

    Returns:
        (final model with preprocessing, its network without (augmentation
         removed), summary dict, {name: test probabilities})
    """
    distribution = tuner.distribution_strategy
    if log_dir is not None and pathlib.Path(log_dir).exists():
        # a resumed run's earlier final stage, replaced below
        remove_inside(tuner.directory, log_dir)
    trials = _ranked_trials(tuner.oracle, ensemble)
    best = trials[0]
    with warnings.catch_warnings():  # the checkpoints' optimizer state is not needed
        warnings.simplefilter("ignore")
        checkpoints = [tuner.load_model(t) for t in (trials[:1] if retrain_best else trials)]
    probabilities = {"checkpoint": predict_probabilities(checkpoints[0], data.x_test, data.y_test)}
    summary = {"checkpoint": {"trial_id": best.trial_id, "trained_on": checkpoint_data,
                              "epochs": best_epochs(best),
                              "test_accuracy": accuracy(data.y_test,
                                                         probabilities["checkpoint"])},
               "retrain": None, "ensemble": None}
    logger.info(f"best trial {best.trial_id}: checkpoint test_accuracy="
                f"{summary['checkpoint']['test_accuracy']:.4f} (trained on {checkpoint_data} "
                "only)")
    members, names = checkpoints, [f"trial_{t.trial_id}" for t in trials]
    kind = "checkpoints"
    epochs = [best_epochs(t) for t in trials]
    if retrain_best:
        members, summary["retrain"] = _retrain_trials(
            hypermodel, trials, data, seeds=seeds, seed=seed, distribution=distribution,
            log_dir=log_dir, verbose=verbose)
        probabilities["retrained"] = summary["retrain"].pop("probabilities")
        kind, epochs = "retrained", [member_epochs(t, best) for t in trials]
        if seeds > 1:  # every seed's model joins the average: each was trained anyway
            names[:1] = [f"trial_{best.trial_id}_seed{seed + i}" for i in range(seeds)]
            epochs[:1] = epochs[:1] * seeds
        # The checkpoint (trained on train) and the retrained model(s) (train+validation,
        # from a new start), averaged: measured against each alone in benchmarks/RESULTS.md.
        if average_checkpoint and len(trials) == 1:
            members = members + checkpoints
            names.append(f"trial_{best.trial_id}_checkpoint")
            kind = "retrained and checkpoint"
            epochs.append(best_epochs(best))
    # The final model runs in float32 whatever the training precision (exports need it).
    keras.mixed_precision.set_global_policy("float32")
    # an average of one configuration's models is no ensemble (`--ensemble` makes one)
    label = "averaged" if len(trials) == 1 else "ensemble"
    with maybe_distribute(distribution):
        network = without_augmentation(average(members, names, name=label))
    final = with_preprocessing(network, data)
    probabilities["final"] = predict_raw(final, data.raw_test)
    if len(members) > 1:  # the final model is the ensemble
        probabilities["ensemble"] = probabilities["final"]
        summary["ensemble"] = {"trial_ids": [t.trial_id for t in trials], "members": kind,
                               "names": names, "epochs": epochs,
                               "test_accuracy": accuracy(data.y_test, probabilities["ensemble"])}
        logger.info(f"{label} ({ensemble_label(summary['ensemble'])}): "
                    f"test_accuracy={summary['ensemble']['test_accuracy']:.4f}")
    summary["final_model"] = (label if len(members) > 1 else
                              "retrained" if retrain_best else "checkpoint")
    return final, network, summary, probabilities


def _ranked_trials(oracle, ensemble):
    """The `ensemble` best distinct completed trials, best first (fewer, said, when there are
    fewer).

    Raises:
        SearchError: when no trial completed.
    """
    trials = top_trials(oracle, ensemble)
    if not trials:
        failed = failed_trials_summary(oracle)
        raise SearchError("No completed trial: no trial of the search finished with a finite "
                          "score" + (f" ({failed})" if failed else "") + ". Fix the cause and "
                          "run the same command to go on.")
    if len(trials) < ensemble:
        logger.info(f"only {len(trials)} completed trial(s) with distinct hyperparameters; "
                    f"the ensemble has {len(trials)} member(s), not {ensemble}")
    return trials


def _retrain_trials(hypermodel, trials, data, *, seeds, seed, distribution, log_dir, verbose):
    """Retrains the best trial with each seed and the other trials with `seed`;
    returns (the models: the best trial's, one a seed, then one per other trial; the
    retrain summary)."""
    x, y = data.train_and_val()
    train_val = to_dataset(x, y, data.modality)
    started = time.time()
    best, models, accuracies = trials[0], [], []
    runs = [(best, seed + i) for i in range(seeds)] + [(t, seed) for t in trials[1:]]
    for number, (trial, run_seed) in enumerate(runs, start=1):
        epochs = member_epochs(trial, best)
        why = "its best" if epochs == best_epochs(trial) else \
            f"cut off by Hyperband at its best {best_epochs(trial)}: the best trial's"
        logger.info(f"retrain {number} of {len(runs)}: trial {trial.trial_id}'s "
                    f"hyperparameters on train+validation ({len(y):,} examples) for {epochs} "
                    f"{'epoch' if epochs == 1 else 'epochs'} "
                    f"({why}), seed {run_seed}")
        callbacks = []
        if number == 1 and log_dir is not None:
            callbacks.append(tensorboard_callback(log_dir))
        model = retrain(hypermodel, trial.hyperparameters, train_val, epochs=epochs,
                        seed=run_seed, distribution=distribution, callbacks=callbacks,
                        verbose=verbose)
        if trial is best:
            probabilities = predict_probabilities(model, data.x_test, data.y_test)
            accuracies.append(accuracy(data.y_test, probabilities))
            logger.info(f"retrained, seed {run_seed}: test_accuracy={accuracies[-1]:.4f}")
            if len(accuracies) == 1:
                first_probabilities = probabilities
        models.append(model)
    return models, {
        "trial_id": best.trial_id, "trained_on": "train+validation", "train_size": len(y),
        "epochs": best_epochs(best), "seeds": [s for t, s in runs if t is best],
        "test_accuracy_per_seed": accuracies,
        "test_accuracy_mean": float(np.mean(accuracies)),
        "test_accuracy_std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
        "seconds": round(time.time() - started, 1),
        "probabilities": first_probabilities,
    }


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
    train_val = to_dataset(*data.train_and_val(), data.modality)
    model = retrain(hypermodel, hp, train_val, epochs=epochs, seed=seed, verbose=verbose)
    probabilities = predict_probabilities(model, data.x_test, data.y_test)
    return {"epochs": epochs,
            "test_accuracy": accuracy(data.y_test, probabilities),
            "seconds": round(time.time() - started, 1)}
