"""One search end to end: config -> data -> hypermodel -> strategy -> tuner -> results."""

import contextlib
import dataclasses
import functools
import time

import keras

from tfopt.tuning import finetune
from tfopt.tuning import plan as plan_module
from tfopt.tuning.budget import Budget, format_seconds
from tfopt.training.callbacks import DeadlineCallback, StepClock, trial_callbacks
from tfopt.config import SearchConfig
from tfopt.data.profile import describe_settings, infer_settings
from tfopt.data.pipeline import to_dataset
from tfopt.training.strategy import choose_strategy, set_mixed_precision, strategy_name
from tfopt.backend import configure_backend
from tfopt.errors import InputError
from tfopt.results.export import check_exports, export_models
from tfopt.results.final import finalize
from tfopt.tuning.hypermodels import base_space, custom_name, make_hypermodel
from tfopt.tuning.model_cost import configuration_cost
from tfopt.training.multi_worker import replica_out, writes_results
from tfopt.results.report import build_report
from tfopt.results.saving import save_results
from tfopt.tuning.space import apply_space
from tfopt.data.tasks import load_data
from tfopt.tuning.tuners import make_oracle, make_tuner, plan


REPEATS = 1000  # Hyperband iterations under a wall-clock budget: the budget ends the search


@dataclasses.dataclass
class SearchResult:
    """What `search` returns: the keras-tuner tuner, the best hyperparameters, the final
    model (raw images or strings in, probabilities out) and the run's results."""

    tuner: object
    best_hyperparameters: object
    model: keras.Model
    results: dict
    run_dir: object


def search(task=None, model=None, tuner="hyperband", *, data=None, text_column=None,
           label_column=None, image_size=None, skip_bad=False, space=None, class_weights=None,
           objective=None, max_trials=None, epochs=None, out=None, seed=0, data_dir=None,
           strategy="auto", mixed_precision=False, retrain=True, seeds=1, ensemble=1,
           average_checkpoint=True, export=(), init_from=None, budget=None, callbacks=None,
           plan_only=False, verbose=1, chief=False, worker=None, chief_address=None,
           _started=None):
    """Tunes a model on a built-in task or on your own data and returns a `SearchResult`.

    Args:
        task: a name from `tfopt.TASKS` ("mnist", "fashion_mnist", "cifar10",
            "digits", "mr", "imdb"); "mnist" when neither task nor data is given.
        model: "vgg", "textcnn" or "transformer" (default: the task's or the data's
            family), or your own `build(hp)` function or `keras_tuner.HyperModel`
            (see `tfopt.hypermodels.CustomHyperModel`).
        tuner: "hyperband" (default), "random", "bayesian" or "grid".
        data: your own data instead of a task: a folder with one sub-folder per
            class (images, or .txt files), optionally under train/val/test; a
            CSV, TSV or JSONL file of texts and labels; or an .npz with x and y.
            Nothing in it is written or moved.
        text_column, label_column: the columns of a CSV/TSV/JSONL file (inferred
            when obvious).
        image_size: resize images to this size: 64, "64x48" or (64, 48)
            (default: the most common size, at most 128 pixels a side).
        skip_bad: skip (and count) unreadable images and empty rows instead of stopping.
        space: a YAML/JSON file or a dict that narrows, widens, fixes or adds
            hyperparameters, e.g. {"learning_rate": {"min": 1e-4, "max": 1e-2,
            "sampling": "log"}, "optimizer": ["adam", "adamw"], "dropout": 0.3}.
        class_weights: None turns balanced class weights on for imbalanced data
            (largest class over 3x the smallest); True or False forces them.
        objective: "val_accuracy", "val_balanced_accuracy" (default on imbalanced
            data) or "val_loss".
        max_trials: most trials to run (default: the task's budget).
        epochs: epochs per trial (`max_epochs` for hyperband; default: the task's).
        out: run folder (default `runs/<task>-<model>-<tuner>-<time>`); an
            existing run folder of the same search is resumed.
        seed: seed of the search and of training.
        data_dir: folder searched for data before downloading (default `$TFOPT_DATA_DIR`).
        strategy: "auto", "default", "mirrored", "multi_worker" (the cluster in TF_CONFIG;
            every machine runs the same search, the chief writes the run) or "tpu".
        mixed_precision: train with a mixed float16/bfloat16 policy; "auto": bfloat16 on
            TensorFlow on a CPU with native bfloat16 (AVX512_BF16/AMX), else off.
        retrain: retrain the best hyperparameters on train+validation for the
            best trial's epoch count (else the final model is its checkpoint).
        seeds: retrain with this many seeds and report mean and spread.
        ensemble: average the K best trials' (retrained) models into the final model.
        average_checkpoint: with one retrained model, the final model averages it with
            the best trial's checkpoint (no more training; better than either alone in
            our measurements); False keeps the retrained network alone.
        export: extra exports, e.g. ("tflite",) for TensorFlow Lite float32,
            dynamic-range int8 and float16 files.
        init_from: a finished run folder whose trained network is fine-tuned on
            this data (new classifier; frozen blocks and learning rate tuned);
            the report compares it with the same architecture from scratch.
        budget: wall-clock limit of the whole search, e.g. "90s", "10m", "2h" or
            seconds. Hyperband's `max_epochs` (unless `epochs` is given) is chosen so
            the plan fits; no trial is started that would not end in time; time
            for retraining the best trial so far is kept aside.
        callbacks: extra Keras callbacks every trial gets (copied per trial).
        plan_only: print and return the plan (trials, epochs, estimated time from
            a short timing probe) as a dict, without searching or writing anything.
        verbose: 0 silent, 1 progress bars, 2 one line per epoch.
        chief: serve this search's trials to workers (keras-tuner's distributed
            tuning, `tfopt.scale.chief_worker`) and build the final model when they are done.
        worker: this process's worker id: it asks the chief at `chief_address`
            ("HOST:PORT"; the chief's default 127.0.0.1:8470) for trials, on the same
            `out` folder, and returns when the chief has none left (`model` None).

    Example:
        >>> result = tfopt.search("digits", max_trials=2, epochs=2)
        >>> result = tfopt.search(data="reviews.csv", space={"dropout": 0.3})
        >>> result.results["test_accuracy"]
        >>> result.model.predict(raw_images_or_strings)
    """
    # `_started`: when the command line began, so a budget counts its imports (TensorFlow's
    # take 4-14 s on 2 cores) as a user timing `tfopt search --budget 60s` does.
    started = time.time() if _started is None else _started
    custom = None if model is None or isinstance(model, str) else model
    config = SearchConfig(task=task, data=data, model=None if custom else model, tuner=tuner,
                          max_trials=max_trials, epochs=epochs, out=out, seed=seed,
                          data_dir=data_dir, strategy=strategy, mixed_precision=mixed_precision,
                          retrain=retrain, seeds=seeds, ensemble=ensemble,
                          average_checkpoint=average_checkpoint, export=export,
                          text_column=text_column, label_column=label_column,
                          image_size=image_size, skip_bad=skip_bad, class_weights=class_weights,
                          objective=objective, space=space, init_from=init_from,
                          custom_model=custom_name(custom), budget=budget).resolved()
    task_info = config.task_info()
    if config.strategy == "multi_worker" and config.budget:
        raise InputError("--budget is not supported with --strategy multi_worker (each "
                         "machine would decide on its own clock); use --max-trials.")
    distributed = None
    if chief or worker is not None:  # gRPC and keras-tuner's protos only when asked for
        from tfopt.scale import chief_worker as distributed

        distributed.check_role(chief, worker, chief_address, config.budget)
        if config.strategy == "multi_worker":
            raise InputError("--strategy multi_worker trains one model on every machine of "
                             "TF_CONFIG's cluster; it does not combine with --chief/--worker, "
                             "which run different trials at once. Use one or the other.")
    configure_backend()
    check_exports(config.export)
    keras.utils.set_random_seed(config.seed)
    policy = set_mixed_precision(config.mixed_precision)
    distribution = choose_strategy(config.strategy)
    if not writes_results(distribution):  # a multi-worker replica: trains in step, writes aside
        config = dataclasses.replace(config, out=replica_out(config.out, distribution))
        _say(verbose, f"[tfopt] multi-worker replica: the cluster's chief writes the run; this "
                      f"member's copies go to {config.out}")

    source = finetune.load_source(config.init_from) if config.init_from else None
    _say(verbose, f"[tfopt] loading {task_info.name}: {task_info.description} ...")
    data = load_data(task_info, config.data_dir, **finetune.source_vocabulary(source))
    if source and data.modality == "image":
        data.notes += finetune.match_images(data, source.network.input_shape[1:])
    settings = infer_settings(data, class_weights=config.class_weights,
                              objective=config.objective)
    epochs_given, trials_given = config.epochs is not None, config.max_trials is not None
    config = config.with_trial_budget(len(data.y_train))
    _say(verbose, f"[tfopt] data: {data.source}; splits {data.sizes()}, "
                  f"{data.num_classes} classes, input {data.input_shape}")
    for line in describe_settings(data, settings, config.model, model_given=bool(model)):
        _say(verbose, line)
    train = to_dataset(data.x_train, data.y_train, data.modality)
    val = to_dataset(data.x_val, data.y_val, data.modality)

    hypermodel, space = _hypermodel_and_space(config, task_info, data, settings, custom,
                                              source, verbose)
    # The probe's time is the search's: a search times the default model and one sample,
    # `--plan` (which only prints the plan) three samples.
    setup, epoch_seconds, timings = plan_module.probe(hypermodel, train, len(data.y_train),
                                                      space=space, samples=3 if plan_only else 1)
    train_val_ratio = (len(data.y_train) + len(data.y_val)) / len(data.y_train)
    repeat = bool(config.budget) and config.tuner == "hyperband" and not trials_given
    if repeat:  # Hyperband's brackets go round until the time is up
        epochs = config.epochs if epochs_given else plan_module.epochs_for_budget(
            config, setup, epoch_seconds, train_val_ratio)
        config = dataclasses.replace(config, epochs=epochs, max_trials=None)
    trials, total_epochs = plan(make_oracle(config.tuner, settings["objective"],
                                            max_trials=config.max_trials, epochs=config.epochs,
                                            hyperparameters=space, hypermodel=hypermodel),
                                config.epochs)
    # Too short for one round of Hyperband's smallest schedule: no search, the defaults train.
    explore = not (repeat and not epochs_given and plan_module.estimated_seconds(
        trials, total_epochs, setup, epoch_seconds) > config.budget - (time.time() - started))
    retrain_epochs = plan_module.kept_retrain_epochs(config, train_val_ratio, epoch_seconds) \
        if explore else 0
    plan_text = plan_module.describe(
        config.tuner, trials, total_epochs, setup, epoch_seconds, retrain_epochs=retrain_epochs,
        budget=config.budget, repeat=repeat, explore=explore, retrain=config.retrain)
    _say(verbose, plan_text)
    first_trial = setup + (1 if config.tuner == "hyperband" else config.epochs) * epoch_seconds
    if config.budget and first_trial > config.budget - (time.time() - started):
        _say(verbose, f"[tfopt] budget: {format_seconds(config.budget)} is shorter than one trial "
                      f"(about {format_seconds(first_trial)} after loading and timing); the first "
                      "trial runs anyway and is stopped at the deadline")
    if plan_only:
        return {"tuner": config.tuner, "trials": trials, "epochs": total_epochs,
                "max_epochs": config.epochs, "setup_seconds": round(setup, 2),
                "epoch_seconds": round(epoch_seconds, 2), "budget_seconds": config.budget,
                "estimated_seconds": round(plan_module.estimated_seconds(
                    trials, total_epochs, setup, epoch_seconds, retrain_epochs)),
                "text": plan_text}

    run_dir = config.prepare_run_dir()
    _say(verbose, f"[tfopt] run folder: {run_dir}; strategy {strategy_name(distribution)}, "
                  f"dtype {policy}")
    clock = StepClock()
    deadline = None
    if config.budget:
        deadline = Budget(config.budget, spent=time.time() - started, setup=setup,
                          epoch_seconds=epoch_seconds, train_val_ratio=train_val_ratio,
                          test_ratio=len(data.y_test) / len(data.y_train),
                          final_runs=(config.seeds + config.ensemble - 1) * config.retrain,
                          explore=explore, timings=timings,
                          cost=functools.partial(configuration_cost, hypermodel))
    extra = [clock] + ([DeadlineCallback(deadline)] if deadline else []) + list(callbacks or [])
    with distributed.role(chief, worker, chief_address) if distributed else \
            contextlib.nullcontext():
        kt_tuner = make_tuner(config.tuner, hypermodel, objective=settings["objective"],
                              directory=run_dir, max_trials=config.max_trials,
                              epochs=config.epochs, seed=config.seed,
                              distribution_strategy=distribution, hyperparameters=space,
                              iterations=REPEATS if repeat else 1, budget=deadline,
                              step_clock=clock)
        if chief:
            distributed.serve_search(kt_tuner, run_dir, chief_address,
                                     say=functools.partial(_say, verbose))
        else:
            if worker is not None:
                distributed.connect(kt_tuner, run_dir)
            kt_tuner.search(train, validation_data=val, epochs=config.epochs,
                            callbacks=trial_callbacks(run_dir / "logs",
                                                      objective=settings["objective"]) + extra,
                            verbose=verbose)
    if worker is not None:
        _say(verbose, f"[tfopt] worker {worker}: the chief has no trial left; the chief builds "
                      f"the final model in {run_dir}")
        return SearchResult(kt_tuner, None, None, {"role": "worker", "worker": worker}, run_dir)
    retrain = _retrain_within_budget(config, deadline, kt_tuner, verbose)
    final, network, final_summary, probabilities = finalize(
        kt_tuner, hypermodel, data, retrain_best=retrain, seeds=config.seeds,
        ensemble=config.ensemble, average_checkpoint=config.average_checkpoint, seed=config.seed,
        log_dir=run_dir / "logs" / "final", verbose=verbose, say=functools.partial(_say, verbose))
    export_started = time.time()
    exports = export_models(final, network, data, run_dir, formats=config.export)
    _say(verbose, f"[tfopt] exported {', '.join(row['format'] for row in exports)}, each "
                  f"checked on the test split ({time.time() - export_started:.1f} s)")
    comparison = None
    if source:
        comparison = _compare_with_scratch(source, hypermodel, kt_tuner, data, final_summary,
                                           config, task_info, verbose)
    results = save_results(kt_tuner, data, config, run_dir, final_summary=final_summary,
                           probabilities=probabilities, exports=exports, started=started,
                           policy=policy, strategy=strategy_name(distribution),
                           settings=settings, init_from=comparison,
                           budget=_budget_summary(deadline, retrain, config))
    report_started = time.time()
    build_report(run_dir, tensorboard=True)
    _say(verbose, f"[tfopt] report: {run_dir / 'report.html'} ({time.time() - report_started:.1f} s)")
    _say(verbose, f"[tfopt] done in {results['wall_time_seconds'] / 60:.1f} min: best "
                  f"{results['objective']}={results['best_validation_score']:.4f}; final model "
                  f"({results['final_model']}) test_accuracy={results['test_accuracy']:.4f} on "
                  f"{data.sizes()['test']} test examples; results in {run_dir}")
    best_hp = kt_tuner.oracle.get_best_trials(1)[0].hyperparameters
    return SearchResult(kt_tuner, best_hp, final, results, run_dir)


def _retrain_within_budget(config, budget, tuner, verbose):
    """Whether to retrain: as asked, unless the budget's time left cannot fit it."""
    if budget is None:
        return config.retrain
    if budget.stopped:
        _say(verbose, f"[tfopt] budget: no more trials: {budget.stopped}")
    if budget.redrawn:
        _say(verbose, f"[tfopt] budget: {budget.redrawn} drawn model(s) would not have ended in "
                      "time; others were drawn in their place")
    for trial_id, begin, end in budget.continued:
        _say(verbose, f"[tfopt] budget: continued trial {trial_id} from epoch {begin} to {end} "
                      "with the time left")
    if not config.retrain:
        return False
    needed = budget.final_seconds(runs=config.seeds + config.ensemble - 1)
    left = budget.remaining() - budget.margin
    kept = budget.final_runs and budget.keeps_final()
    if needed <= left:  # kept aside, or the search ended early enough
        if not kept:
            _say(verbose, f"[tfopt] budget: the search ended with {format_seconds(left)} left; "
                          f"retraining (about {format_seconds(needed)}) fits in it")
        return True
    over_share = needed > budget.retrain_share() * budget.seconds
    why = (f" (more than {budget.retrain_share():.0%} of the {format_seconds(budget.seconds)} "
           "budget, so no time was kept for it)") if over_share else ""
    _say(verbose, f"[tfopt] budget: no retraining: it would take about {format_seconds(needed)}"
                  f"{why}, {format_seconds(max(0.0, left))} are left; the final model is the "
                  "best trial's checkpoint")
    return False


def _budget_summary(budget, retrained, config):
    """What results.json records about the wall-clock budget (None without one)."""
    if budget is None:
        return None
    return {"seconds": config.budget, "max_epochs": config.epochs, "stopped": budget.stopped,
            "searched": budget.explore, "redrawn": budget.redrawn,
            "continued": [{"trial_id": t, "from_epoch": b, "to_epoch": e}
                          for t, b, e in budget.continued],
            "retrain_skipped": bool(config.retrain and not retrained)}


def _hypermodel_and_space(config, task_info, data, settings, custom, source, verbose):
    """The search's HyperModel (a family's, the user's, or fine-tuning's) and the user's
    space as keras-tuner hyperparameters (None without one)."""
    common = dict(loss=task_info.loss, metrics=task_info.metrics,
                  balanced=settings["objective"] == "val_balanced_accuracy",
                  class_weight=settings["class_weight"], shuffle_seed=config.seed)
    if source:
        hypermodel = finetune.FineTuneHyperModel(source.network, data.num_classes, **common)
        _say(verbose, f"[tfopt] fine-tuning {config.init_from}'s {source.network.name} network "
                      f"(blocks {', '.join(hypermodel.blocks)}); new {data.num_classes}-class "
                      "classifier")
        return hypermodel, None
    own_family = custom is None and config.model == task_info.default_model
    defaults = dict(task_info.defaults) if own_family else {}
    hypermodel = make_hypermodel(config.model, data, custom=custom, flip=task_info.flip,
                                 defaults=defaults, **common)
    if defaults:
        _say(verbose, f"[tfopt] first trial: {task_info.name}'s own defaults for "
                      + ", ".join(f"{k}={v}" for k, v in defaults.items())
                      + f", the rest as {config.model}'s")
    if not config.space:
        return hypermodel, None
    base, addable = base_space(config.model)
    _say(verbose, "[tfopt] search space: your ranges for " + ", ".join(sorted(config.space))
                  + "; the rest as the family's")
    return hypermodel, apply_space(config.space, base, addable=addable)


def _compare_with_scratch(source, hypermodel, tuner, data, final_summary, config, task_info,
                          verbose):
    """Trains the source's architecture from scratch on this data: the fine-tuning baseline."""
    run = source.run
    best = tuner.oracle.get_best_trials(1)[0].hyperparameters.values
    tuned = final_summary["retrain"] or final_summary["checkpoint"]
    source_epochs = (run.results["retrain"] or run.results["checkpoint"])["epochs"]
    epochs = max(tuned["epochs"], source_epochs)
    _say(verbose, f"[tfopt] baseline: {run.results['model']} with the source's best "
                  f"hyperparameters from scratch on train+validation for {epochs} epochs")
    scratch = finetune.train_from_scratch(run, data, epochs=epochs, seed=config.seed,
                                          loss=task_info.loss, metrics=task_info.metrics)
    _say(verbose, f"[tfopt] from scratch: test_accuracy={scratch['test_accuracy']:.4f}")
    return {"run": str(config.init_from), "source_task": run.results["task"],
            "source_model": run.results["model"], "blocks": hypermodel.blocks,
            "frozen_blocks": best["frozen_blocks"], "epochs": tuned["epochs"],
            "test_accuracy": tuned.get("test_accuracy_mean", tuned.get("test_accuracy")),
            "scratch": scratch}


def _say(verbose, message):
    if verbose:
        print(message, flush=True)
