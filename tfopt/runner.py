"""One search, top to bottom: `search()` turns its arguments into one resolved
`SearchConfig`; `run(config)` goes through the stages of a search in order:

    set up -> load the data -> build the space -> plan -> run the trials
           -> finish the final model -> record the results

Each stage is a function below that returns a small frozen dataclass for the next ones.
"""

import contextlib
import dataclasses
import time

import keras

from tfopt.backend import configure_backend
from tfopt.config import SearchConfig
from tfopt.data.pipeline import to_dataset
from tfopt.data.profile import describe_settings, infer_settings
from tfopt.data.splits import make_folds
from tfopt.data.tasks import load_data
from tfopt.log import live_console, logger, show
from tfopt.options import docstring
from tfopt.results import loading
from tfopt.results.export import check_exports, export_models
from tfopt.results.final import finalize, train_from_scratch
from tfopt.results.report import build_report
from tfopt.results.saving import save_results
from tfopt.training.callbacks import StepClock, trial_callbacks
from tfopt.training.multi_worker import replica_out, writes_results
from tfopt.training.strategy import choose_strategy, set_mixed_precision, strategy_name
from tfopt.tuning import budget as budget_module
from tfopt.tuning import finetune
from tfopt.tuning.hypermodels import base_space, make_hypermodel
from tfopt.tuning.plan import make_plan
from tfopt.tuning.space import apply_space
from tfopt.tuning.tuners import make_tuner, tuned_values

__all__ = ["SearchResult", "run", "search"]


@dataclasses.dataclass
class SearchResult:
    """What `search` returns: the keras-tuner tuner, the best hyperparameters, the final
    model (raw images or strings in, probabilities out) and the run's results."""

    tuner: object
    best_hyperparameters: object
    model: keras.Model
    results: dict
    run_dir: object


def search(task=None, model=None, tuner=None, *, data=None, text_column=None,
           label_column=None, image_size=None, skip_bad=False, space=None, class_weights=None,
           objective=None, max_trials=None, epochs=None, cv=None, out=None, seed=0,
           data_dir=None,
           strategy="auto", mixed_precision=False, retrain=True, seeds=None, ensemble=1,
           average_checkpoint=True, export=(), init_from=None, budget=None, callbacks=None,
           plan_only=False, verbose=1, chief=False, worker=None, chief_address=None,
           _started=None):
    arguments = {name: value for name, value in locals().items() if name != "_started"}
    if verbose == 1 and not live_console():
        arguments["verbose"] = 2  # Keras' line an epoch, not progress bars, into a file
    show(verbose)
    # `_started`: when the command line began, so a budget counts its imports (TensorFlow's
    # take 4-14 s on 2 cores) as a user timing `tfopt search --budget 60s` does.
    config = SearchConfig(**arguments, started=_started or time.time()).resolved()
    return run(config)


search.__doc__ = docstring(
    "Tunes a model on a built-in task or on your own data and returns a `SearchResult`.",
    "A `SearchResult` (tuner, best_hyperparameters, model, results, run_dir); with "
    "plan_only, the plan as a dict.",
    '    >>> result = tfopt.search("digits", max_trials=2, epochs=2)\n'
    '    >>> result = tfopt.search(data="reviews.csv", space={"dropout": 0.3})\n'
    '    >>> result.results["test_accuracy"]\n'
    '    >>> result.model.predict(raw_images_or_strings)')


def run(config):
    """Runs the search `config` (resolved) describes, stage by stage."""
    show(config.verbose)
    started = config.started or time.time()
    setup = set_up(config)
    config = setup.config
    source = loading.load_source(config.init_from) if config.init_from else None  # fine-tuning
    data = load(config, source)
    space = build_space(config, data, source)
    given = (config.epochs is not None, config.max_trials is not None,
             config.seeds is not None)
    config = note_default_budget(config, config.with_search_defaults(data.sizes["train"]))
    plan = make_plan(config, space, data, given=given, started=started)
    for line in (plan.text, plan.note):
        if line:
            logger.info(line)
    if config.plan_only:
        return plan.as_dict()
    config = dataclasses.replace(config, epochs=plan.max_epochs, max_trials=plan.max_trials,
                                 seeds=plan.seeds)
    trials = run_trials(config, setup, data, space, plan, started)
    if config.worker is not None:
        logger.info(f"worker {config.worker}: the chief has no trial left; the chief builds "
                    f"the final model in {trials.run_dir}")
        return SearchResult(trials.tuner, None, None,
                            {"role": "worker", "worker": config.worker}, trials.run_dir)
    final = finish(config, data, space, trials, source)
    results = record(config, setup, data, trials, final, started)
    return SearchResult(trials.tuner, final.best_hyperparameters, final.model, results,
                        trials.run_dir)


def note_default_budget(given, config):
    """`config`; says so when it holds a default budget the `given` config had not."""
    if config.budget and not given.budget:
        seconds = budget_module.format_seconds(config.budget)
        logger.info(f"budget: none given; {seconds} is the default on data this size "
                    "(--budget, --epochs or --max-trials set your own)")
    return config


@dataclasses.dataclass(frozen=True)
class SetUp:
    config: SearchConfig  # with a multi-worker replica's own `out`
    distribution: object  # the tf.distribute strategy, or None for the default
    policy: str  # the Keras dtype policy


def set_up(config):
    """Backend, seed, precision and strategy; the checks that need no data."""
    configure_backend()
    check_exports(config.export)
    keras.utils.set_random_seed(config.seed)
    policy = set_mixed_precision(config.mixed_precision)
    distribution = choose_strategy(config.strategy)
    if not writes_results(distribution):  # a multi-worker replica: trains in step, writes aside
        config = dataclasses.replace(config, out=replica_out(config.out, distribution))
        logger.info(f"multi-worker replica: the cluster's chief writes the run; this member's "
                    f"copies go to {config.out}")
    return SetUp(config, distribution, policy)


@dataclasses.dataclass(frozen=True)
class Data:
    splits: object  # `tfopt.data.splits.Splits`
    settings: dict  # class weights and objective (`tfopt.data.profile.infer_settings`)
    train: object  # the training and validation splits as datasets
    val: object
    sizes: dict  # examples in each split
    folds: object = None  # `tfopt.data.splits.Folds` with cross-validation


def load(config, source):
    """Loads and splits the data once (in the source network's shape when fine-tuning)."""
    task = config.task_spec
    logger.info(f"loading {task.name}: {task.description} ...")
    splits = load_data(task, config.data_dir, **finetune.source_vocabulary(source))
    if source and splits.modality == "image":
        splits.notes += finetune.match_images(splits, source.network.input_shape[1:])
    settings = infer_settings(splits, class_weights=config.class_weights,
                              objective=config.objective)
    sizes = splits.sizes()
    logger.info(f"data: {splits.source}; train {sizes['train']:,}, validation {sizes['val']:,}, "
                f"test {sizes['test']:,}; {splits.num_classes} classes, input "
                + "x".join(map(str, splits.input_shape)))
    for line in describe_settings(splits, settings, config.model,
                                  model_given=bool(config.model_given)):
        logger.info(line)
    folds = make_folds(splits, config.cv) if config.cv else None
    if folds:
        logger.info(f"cross-validation: {config.cv} stratified folds of train+validation "
                    f"({len(folds.y):,} examples): each fold trains on {folds.sizes()['train']:,} "
                    f"and validates on {folds.sizes()['val']:,}; the test split "
                    f"({splits.sizes()['test']:,}) stays out")
    return Data(splits, settings, to_dataset(splits.x_train, splits.y_train, splits.modality),
                to_dataset(splits.x_val, splits.y_val, splits.modality), splits.sizes(), folds)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    hypermodel: object  # a `keras_tuner.HyperModel`
    hyperparameters: object  # the user's ranges as `keras_tuner.HyperParameters`, or None


def build_space(config, data, source):
    """The search's HyperModel (a family's, the user's, or fine-tuning's) and the user's
    ranges, if any."""
    task, splits = config.task_spec, data.splits
    common = dict(loss=task.loss, metrics=task.metrics,
                  balanced=data.settings["objective"] == "val_balanced_accuracy",
                  class_weight=data.settings["class_weight"], shuffle_seed=config.seed,
                  train_size=data.sizes["train"])
    if source:
        hypermodel = finetune.FineTuneHyperModel(source.network, splits.num_classes, **common)
        logger.info(f"fine-tuning {config.init_from}'s {source.network.name} network (blocks "
                    f"{', '.join(hypermodel.blocks)}); new {splits.num_classes}-class classifier")
        return SearchSpace(hypermodel, None)
    own_family = config.custom is None and config.model == task.default_model
    defaults = dict(task.defaults) if own_family else {}
    hypermodel = make_hypermodel(config.model, splits, custom=config.custom, flip=task.flip,
                                 defaults=defaults, **common)
    if defaults:
        logger.info(f"first trial: {task.name}'s own defaults for "
                    + ", ".join(f"{k}={v}" for k, v in defaults.items())
                    + f", the rest as {config.model}'s")
    if not config.space:
        return SearchSpace(hypermodel, None)
    base, addable = base_space(config.model)
    logger.info("search space: your ranges for " + ", ".join(sorted(config.space))
                + "; the rest as the family's")
    return SearchSpace(hypermodel, apply_space(config.space, base, addable=addable))


@dataclasses.dataclass(frozen=True)
class Trials:
    tuner: object  # the keras-tuner tuner, its oracle holding every trial
    run_dir: object  # pathlib.Path
    budget: object  # the `tfopt.tuning.budget.Budget`, or None without one


def run_trials(config, setup, data, space, plan, started):
    """Runs the trials (or serves them to workers as the chief) in the run folder."""
    run_dir = config.prepare_run_dir()
    logger.info(f"run folder: {run_dir}; strategy {strategy_name(setup.distribution)}, "
                f"dtype {setup.policy}")
    clock = StepClock()
    budget = budget_module.for_search(config, plan, data.sizes, space.hypermodel, started)
    callbacks = (trial_callbacks(run_dir / "logs", objective=data.settings["objective"])
                 + [clock] + budget_module.callbacks(budget) + list(config.callbacks or []))
    chief_worker = None
    if config.chief or config.worker is not None:  # gRPC and keras-tuner's protos only then
        from tfopt.scale import chief_worker
    with chief_worker.role(config.chief, config.worker, config.chief_address) \
            if chief_worker else contextlib.nullcontext():
        tuner = make_tuner(config.tuner, space.hypermodel, objective=data.settings["objective"],
                           directory=run_dir, max_trials=config.max_trials,
                           epochs=config.epochs, seed=config.seed,
                           distribution_strategy=setup.distribution,
                           hyperparameters=space.hyperparameters, iterations=plan.iterations,
                           budget=budget, step_clock=clock, folds=data.folds)
        if config.chief:
            chief_worker.serve_search(tuner, run_dir, config.chief_address)
        else:
            if chief_worker:
                chief_worker.connect(tuner, run_dir)
            tuner.search(data.train, validation_data=data.val, epochs=config.epochs,
                         callbacks=callbacks, verbose=config.verbose)
    return Trials(tuner, run_dir, budget)


@dataclasses.dataclass(frozen=True)
class Final:
    model: object  # raw inputs in, probabilities out
    network: object  # the same without preprocessing
    summary: dict  # every candidate's epochs and test accuracy (`finalize`)
    probabilities: dict  # test-split probabilities of each candidate
    exports: list  # one row per exported file
    best_hyperparameters: object
    retrained: bool  # whether the best trial was retrained
    comparison: dict = None  # fine-tuning against training from scratch


def finish(config, data, space, trials, source):
    """The final model: retrained (within the budget) and checked on the test split, then
    exported, and for fine-tuning compared with the same network trained from scratch."""
    retrain = budget_module.retrain_decision(config, trials.budget)
    model, network, summary, probabilities = finalize(
        trials.tuner, space.hypermodel, data.splits, retrain_best=retrain, seeds=config.seeds,
        ensemble=config.ensemble, average_checkpoint=config.average_checkpoint,
        seed=config.seed, log_dir=trials.run_dir / "logs" / "final", verbose=config.verbose,
        checkpoint_data=f"fold {config.cv} of {config.cv}'s training part" if config.cv
        else "train")
    exported = time.time()
    exports = export_models(model, network, data.splits, trials.run_dir, formats=config.export)
    logger.info(f"exported {', '.join(row['format'] for row in exports)}, each checked on the "
                f"test split ({time.time() - exported:.1f} s)")
    best = trials.tuner.oracle.get_best_trials(1)[0].hyperparameters.copy()
    best.values = tuned_values(best)  # without keras-tuner's "tuner/..." bookkeeping
    comparison = compare_with_scratch(config, source, space.hypermodel, best, data.splits,
                                      summary) if source else None
    return Final(model, network, summary, probabilities, exports, best, retrain, comparison)


def compare_with_scratch(config, source, hypermodel, best, splits, summary):
    """Trains the source's architecture from scratch on this data: the fine-tuning baseline."""
    run = source.run
    tuned = summary["retrain"] or summary["checkpoint"]
    source_epochs = (run.results["retrain"] or run.results["checkpoint"])["epochs"]
    epochs = max(tuned["epochs"], source_epochs)
    logger.info(f"baseline: {run.results['model']} with the source's best hyperparameters "
                f"from scratch on train+validation for {epochs} epochs")
    scratch = train_from_scratch(run, splits, epochs=epochs, seed=config.seed,
                                 loss=config.task_spec.loss, metrics=config.task_spec.metrics)
    logger.info(f"from scratch: test_accuracy={scratch['test_accuracy']:.4f}")
    return {"run": str(config.init_from), "source_task": run.results["task"],
            "source_model": run.results["model"], "blocks": hypermodel.blocks,
            "frozen_blocks": best.values["frozen_blocks"], "epochs": tuned["epochs"],
            "test_accuracy": tuned.get("test_accuracy_mean", tuned.get("test_accuracy")),
            "scratch": scratch}


def record(config, setup, data, trials, final, started):
    """Writes results.json and the other result files, then the report."""
    results = save_results(
        trials.tuner, data.splits, config, trials.run_dir, final_summary=final.summary,
        probabilities=final.probabilities, exports=final.exports, started=started,
        policy=setup.policy, strategy=strategy_name(setup.distribution),
        settings=data.settings, init_from=final.comparison,
        budget=budget_module.summary(trials.budget, final.retrained, config))
    reported = time.time()
    build_report(trials.run_dir, tensorboard=True)
    logger.info(f"report: {trials.run_dir / 'report.html'} ({time.time() - reported:.1f} s)")
    cv = results["cv"]
    best = (f"mean {results['objective']} over {cv['folds']} folds "
            f"{cv['best_mean']:.4f} ± {cv['best_std'] or 0:.4f}" if cv and cv["best_mean"]
            is not None else f"{results['objective']}={results['best_validation_score']:.4f}")
    logger.info(f"done in {results['wall_time_seconds'] / 60:.1f} min: best {best}; final model "
                f"({results['final_model']}) test_accuracy={results['test_accuracy']:.4f} on "
                f"{data.sizes['test']:,} test examples; results in {trials.run_dir}")
    return results
