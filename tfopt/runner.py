"""One search end to end: config -> data -> hypermodel -> strategy -> tuner -> results."""

import dataclasses
import functools
import time

import keras

from tfopt import plan as plan_module
from tfopt.callbacks import trial_callbacks
from tfopt.config import SearchConfig
from tfopt.data.pipeline import to_dataset
from tfopt.distribute import choose_strategy, set_mixed_precision, strategy_name
from tfopt.export import export_models
from tfopt.final import finalize
from tfopt.hypermodels import HYPERMODELS
from tfopt.report import build_report
from tfopt.results import save_results
from tfopt.tasks import get_task, load_data
from tfopt.tuners import make_tuner, plan


@dataclasses.dataclass
class SearchResult:
    """What `search` returns: the keras-tuner tuner, the best hyperparameters, the final
    model (raw images or strings in, probabilities out) and the run's results."""

    tuner: object
    best_hyperparameters: object
    model: keras.Model
    results: dict
    run_dir: object


def search(task="mnist", model=None, tuner="hyperband", *, max_trials=None, epochs=None,
           out=None, seed=0, data_dir=None, strategy="auto", mixed_precision=False,
           retrain=True, seeds=1, ensemble=1, export=(), verbose=1):
    """Tunes a model family on a task and returns a `SearchResult`.

    Args:
        task: a name from `tfopt.TASKS` ("mnist", "fashion_mnist", "cifar10",
            "digits", "mr", "imdb").
        model: "vgg", "textcnn" or "transformer"; defaults to the task's family.
        tuner: "hyperband" (default), "random", "bayesian" or "grid".
        max_trials: most trials to run (default: the task's budget).
        epochs: epochs per trial (`max_epochs` for hyperband; default: the task's).
        out: run folder (default `runs/<task>-<model>-<tuner>-<time>`); an
            existing run folder of the same search is resumed.
        seed: seed of the search and of training.
        data_dir: folder searched for data before downloading (default `$TFOPT_DATA_DIR`).
        strategy: "auto", "default", "mirrored" or "tpu".
        mixed_precision: train with a mixed float16/bfloat16 policy.
        retrain: retrain the best hyperparameters on train+validation for the
            best trial's epoch count (else the final model is its checkpoint).
        seeds: retrain with this many seeds and report mean and spread.
        ensemble: average the K best trials' (retrained) models into the final model.
        export: extra exports, e.g. ("tflite",) for TensorFlow Lite float32,
            dynamic-range int8 and float16 files.
        verbose: 0 silent, 1 progress bars, 2 one line per epoch.

    Example:
        >>> result = tfopt.search("digits", max_trials=2, epochs=2)
        >>> result.results["test_accuracy"]
        >>> result.model.predict(raw_images_or_strings)
    """
    started = time.time()
    config = SearchConfig(task=task, model=model, tuner=tuner, max_trials=max_trials,
                          epochs=epochs, out=out, seed=seed, data_dir=data_dir,
                          strategy=strategy, mixed_precision=mixed_precision,
                          retrain=retrain, seeds=seeds, ensemble=ensemble,
                          export=export).resolved()
    task_info = get_task(config.task)
    keras.utils.set_random_seed(config.seed)
    policy = set_mixed_precision(config.mixed_precision)
    distribution = choose_strategy(config.strategy)

    data = load_data(task_info, config.data_dir)
    config = config.with_budget(len(data.y_train))
    run_dir = config.prepare_run_dir()
    _say(verbose, f"[tfopt] data: {data.source}; splits {data.sizes()}, "
                  f"{data.num_classes} classes, input {data.input_shape}")
    train = to_dataset(data.x_train, data.y_train, data.modality)
    val = to_dataset(data.x_val, data.y_val, data.modality)

    extra = {"flip": task_info.flip} if data.modality == "image" else \
        {"vocab_size": len(data.vocabulary)}
    hypermodel = HYPERMODELS[config.model](
        data.input_shape, data.num_classes, loss=task_info.loss, metrics=task_info.metrics,
        shuffle_seed=config.seed, **extra)
    kt_tuner = make_tuner(config.tuner, hypermodel, objective=task_info.objective,
                          directory=run_dir, max_trials=config.max_trials,
                          epochs=config.epochs, seed=config.seed,
                          distribution_strategy=distribution)
    trials, total_epochs = plan(kt_tuner, config.epochs)
    setup, epoch_seconds = plan_module.probe(hypermodel, train, len(data.y_train))
    _say(verbose, f"[tfopt] run folder: {run_dir}; strategy {strategy_name(distribution)}, "
                  f"dtype {policy}")
    retrain_epochs = plan_module.retrain_epochs(config, len(data.y_train) + len(data.y_val),
                                                len(data.y_train))
    _say(verbose, plan_module.describe(config.tuner, trials, total_epochs, setup, epoch_seconds,
                                       retrain_epochs=retrain_epochs))

    kt_tuner.search(train, validation_data=val, epochs=config.epochs,
                    callbacks=trial_callbacks(run_dir / "logs", objective=task_info.objective),
                    verbose=verbose)
    final, network, final_summary, probabilities = finalize(
        kt_tuner, hypermodel, data, retrain_best=config.retrain, seeds=config.seeds,
        ensemble=config.ensemble, seed=config.seed, log_dir=run_dir / "logs" / "final",
        verbose=verbose, say=functools.partial(_say, verbose))
    exports = export_models(final, network, data, run_dir, formats=config.export)
    results = save_results(kt_tuner, data, config, run_dir, final_summary=final_summary,
                           probabilities=probabilities, exports=exports, started=started,
                           policy=policy, strategy=strategy_name(distribution))
    report_started = time.time()
    build_report(run_dir, tensorboard=True)
    _say(verbose, f"[tfopt] report: {run_dir / 'report.html'} ({time.time() - report_started:.1f} s)")
    _say(verbose, f"[tfopt] done in {results['wall_time_seconds'] / 60:.1f} min: best "
                  f"{results['objective']}={results['best_validation_score']:.4f}; final model "
                  f"({results['final_model']}) test_accuracy={results['test_accuracy']:.4f} on "
                  f"{data.sizes()['test']} test examples; results in {run_dir}")
    best_hp = kt_tuner.oracle.get_best_trials(1)[0].hyperparameters
    return SearchResult(kt_tuner, best_hp, final, results, run_dir)


def _say(verbose, message):
    if verbose:
        print(message, flush=True)
