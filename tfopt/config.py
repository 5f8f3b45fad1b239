"""The search's settings: one frozen `SearchConfig` with a field per option of
`tfopt.options.OPTIONS`, resolved (validated, defaults filled) once, then passed whole."""

import dataclasses
import datetime
import json
import os
import pathlib
import tempfile

from tfopt.choices import EXPORTS, MODELS, OBJECTIVES, STRATEGIES, TUNERS, unknown_name_message
from tfopt.data.download import resolve_data_dir
from tfopt.data.tasks import get_task, search_defaults, user_task
from tfopt.durable import write_json
from tfopt.errors import InputError
from tfopt.options import OPTIONS
from tfopt.tuning.budget import parse_budget

CONFIG_FILE = "config.json"
# What a run folder's config.json records (and a resumed search must match in part):
# the options that say what is searched, not how the process runs.
RECORDED = tuple(option.name for option in OPTIONS if option.config) + ("custom_model",)
# Fields that are not options: filled by `resolved()` or the command line.
_EXTRA = (
    ("custom_model", None),  # the name of the user's build(hp) or HyperModel
    ("custom", None),  # that build(hp) or HyperModel itself
    ("task_spec", None),  # the resolved `tfopt.data.tasks.Task`
    ("model_given", None),  # whether the user chose the model (resolved() fills `model`)
    ("started", None),  # time.time() when the command began: a budget counts from there
)
_Fields = dataclasses.make_dataclass(
    "_Fields", [(option.name, object, dataclasses.field(default=option.default))
                for option in OPTIONS]
    + [(name, object, dataclasses.field(default=default, repr=False, compare=False))
       for name, default in _EXTRA], frozen=True)


class SearchConfig(_Fields):
    """What to search and how. `resolved()` validates it and fills the model and run folder;
    `with_search_defaults` fills the trial count and epochs from the data's size."""

    @property
    def name(self):
        """The task's name, or for own data a name made from the data's path."""
        return self._task().name

    def _task(self):
        if self.task_spec is not None:
            return self.task_spec
        if self.data is None:
            return get_task(self.task or "mnist")
        return user_task(self.data, text_column=self.text_column,
                         label_column=self.label_column, image_size=self.image_size,
                         skip_bad=self.skip_bad)

    def recorded(self):
        """The settings config.json records, as plain values."""
        return {name: getattr(self, name) for name in RECORDED}

    def resolved(self):
        """Returns a validated copy with the task's defaults filled in.

        Raises:
            InputError: naming the bad setting, what was received and what is allowed.
        """
        if self.task and self.data:
            raise InputError(f"Give a built-in task or your own data, not both. Received: "
                             f"task={self.task!r} and data={self.data!r}.")
        _check_data_options(self)
        task = self._task()
        _check_data_options(self, task.modality)
        self = dataclasses.replace(self, tuner=_tuner(self.tuner, self.cv))
        custom = self.model if self.model is not None and not isinstance(self.model, str) \
            else self.custom
        model = _model(task, self.model, custom, self.data)
        if self.init_from:
            model = _source_model(self.init_from, task, self.model if not custom else None,
                                  custom or self.space)
        _check_settings(self)
        space = _load_space(self.space)
        if space and custom:
            raise InputError("A search space file or --set applies to tfopt's model families; "
                             "a custom build(hp) declares its own ranges. Remove space=.")
        if space:
            validate_space(model, space)
        export = (self.export,) if isinstance(self.export, str) else tuple(self.export or ())
        for name in export:
            _check_choice("export", name, EXPORTS)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.out or f"runs/{task.name}-{model}-{self.tuner}-{stamp}"
        data, init_from = (str(pathlib.Path(path).expanduser().resolve()) if path else None
                           for path in (self.data, self.init_from))
        resolved = dataclasses.replace(
            self, task=None if data else task.name, data=data, model=model, custom=custom,
            custom_model=custom_name(custom), task_spec=task, model_given=self.model is not None,
            max_trials=_positive("max_trials", self.max_trials), cv=_positive("cv", self.cv),
            epochs=_positive("epochs", self.epochs), out=str(out), export=export,
            space=space or None, init_from=init_from, budget=parse_budget(self.budget))
        _check_roles(resolved)
        resolved.check_run_dir()
        resolve_data_dir(self.data_dir)
        return resolved

    def with_search_defaults(self, train_size):
        """Copy with `epochs`/`max_trials`/`seeds` left unset taken from the data size's
        defaults (`tfopt.data.tasks.search_defaults`; seeds 1 with an ensemble, no
        retraining or a budget, whose final stage the budget sizes; the plan may lower them,
        `tfopt.tuning.budget.cheap_seeds`), and its default budget when none of budget,
        epochs and trials is given (not with cross-validation, fine-tuning or several
        machines, whose searches a budget does not bound)."""
        epochs, max_trials, budget, seeds = search_defaults(train_size)
        bounded = not (self.budget or self.epochs or self.max_trials or self.cv
                       or self.init_from or self.chief or self.worker is not None
                       or self.strategy == "multi_worker")
        budget = budget if bounded else self.budget
        seeds = self.seeds or (seeds if self.retrain and self.ensemble == 1 and not budget
                               else 1)
        return dataclasses.replace(self, epochs=self.epochs or epochs,
                                   max_trials=self.max_trials or max_trials, budget=budget,
                                   seeds=seeds)

    def check_run_dir(self):
        """Checks that `out` is new, empty, or a run of this same search (to resume).

        Raises:
            InputError: if `out` is a file, a folder tfopt did not create, or a
                run of a different task, model or tuner.
        """
        run_dir = pathlib.Path(self.out)
        saved = run_dir / CONFIG_FILE
        if run_dir.exists() and not run_dir.is_dir():
            raise InputError(f"--out '{run_dir}' is a file, expected a folder. Choose another --out.")
        nearest = next(path for path in (run_dir.absolute(), *run_dir.absolute().parents)
                       if path.exists())
        if not nearest.is_dir():
            raise InputError(f"--out '{run_dir}' is under '{nearest}', which is a file, not a "
                             "folder. Choose another --out.")
        _check_writable(run_dir, nearest)
        if run_dir.is_dir() and any(not p.name.endswith(".tmp") for p in run_dir.iterdir()):
            if not saved.is_file():
                raise InputError(
                    f"--out '{run_dir}' is a non-empty folder that is not a tfopt run; refusing "
                    "to write into it. Choose a new or empty folder.")
            previous = json.loads(saved.read_text())
            for key in ("task", "data", "model", "tuner", "space", "init_from"):
                if previous.get(key) != getattr(self, key):
                    raise InputError(
                        f"--out '{run_dir}' holds a {_label(previous)} run; this search is "
                        f"{_label(self.recorded())}" +
                        (" with another search space" if key == "space" else "") +
                        ". Resume it with the same settings or choose a new --out.")

    def prepare_run_dir(self):
        """Creates (or reopens) the run folder and records this configuration in it."""
        self.check_run_dir()
        run_dir = pathlib.Path(self.out)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"Cannot create --out '{run_dir}': {error.strerror}.") from error
        write_json(run_dir / CONFIG_FILE, self.recorded(), indent=2)  # workers share it
        return run_dir


def _label(config):
    """"digits/vgg/hyperband", or "data /path/x/vgg/hyperband" for own data."""
    what = config.get("task") or f"data {config.get('data')}"
    return f"{what}/{config.get('model')}/{config.get('tuner')}"


def _what(task, data):
    return f"the data at '{data}'" if data else f"task '{task.name}'"


def _source_model(run_dir, task, model, custom):
    """The model family of the finished run `run_dir` that fine-tuning starts from."""
    from tfopt.results.loading import load_results

    source = load_results(run_dir)
    if custom:
        raise InputError("init_from fine-tunes the source run's network with its own search "
                         "space; it does not combine with a custom model or space.")
    if source["model"] not in MODELS:
        raise InputError(f"init_from '{run_dir}' is a run of a custom model "
                         f"({source['model']}); fine-tuning needs a run of "
                         f"{', '.join(MODELS)}.")
    if source["modality"] != task.modality:
        raise InputError(f"init_from '{run_dir}' is a run on {source['modality']} data; "
                         f"{task.name} is {task.modality}. Fine-tune from a "
                         f"{task.modality} run.")
    if model and model != source["model"]:
        raise InputError(f"init_from '{run_dir}' is a {source['model']} run; fine-tuning keeps "
                         f"its family. Received: model={model!r}. Leave model unset.")
    return source["model"]


def _load_space(space):
    """A space file's path (YAML or JSON) or a dict, as a dict."""
    if space is None or isinstance(space, dict):
        return dict(space or {})
    if isinstance(space, (str, pathlib.Path)):
        from tfopt.tuning.space import load_space_file

        return load_space_file(space)
    raise InputError(f"space must be a YAML/JSON file path or a dict. Received: {space!r}")


def validate_space(model, space):
    """Checks `space` against the family's declared search space (raises InputError)."""
    from tfopt.backend import import_tensorflow_quietly

    import_tensorflow_quietly()  # the family's space is declared with Keras
    from tfopt.tuning.hypermodels import base_space
    from tfopt.tuning.space import apply_space

    base, addable = base_space(model)
    apply_space(space, base, addable=addable)


def custom_name(custom):
    """A name for the user's build function or HyperModel (None when there is none)."""
    if custom is None:
        return None
    return getattr(custom, "__name__", None) or getattr(custom, "name", None) or \
        type(custom).__name__


def _model(task, model, custom, data):
    """The model family: the one asked for (checked against the data), "custom" for the
    user's own, else the task's."""
    if custom is not None:
        return "custom"
    model = model or task.default_model
    _check_choice("model", model, MODELS)
    if MODELS[model] != task.modality:
        fits = [m for m, kind in MODELS.items() if kind == task.modality]
        raise InputError(f"Model '{model}' is for {MODELS[model]} data but "
                         f"{_what(task, data)} is {task.modality}. "
                         f"Use one of: {', '.join(fits)}.")
    return model


def _check_writable(run_dir, nearest):
    """Raises InputError, before any work, when the run folder cannot be written: an
    existing one by its permissions, a new one by making (and removing) a folder in
    `nearest`, its closest existing parent (read-only mounts, /proc, permissions)."""
    if nearest == run_dir.absolute():
        if os.access(nearest, os.W_OK | os.X_OK):
            return
        reason = "permission denied"
    else:
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".tfopt-check-", suffix=".tmp", dir=nearest))
            return
        except OSError as error:
            reason = error.strerror
    raise InputError(f"--out '{run_dir}': cannot write in '{nearest}' ({reason}). Choose a "
                     "folder you can write to.")


def _check_data_options(config, modality=None):
    """Own-data options apply to own data of their kind: none is silently ignored.

    Raises:
        InputError: for one given with a built-in task (before `modality` is known), a
            column option with data that is not a table, or an image size with text.
    """
    given = [name for name in ("text_column", "label_column", "image_size", "skip_bad")
             if getattr(config, name) is not None and getattr(config, name) is not False]
    if not given:
        return
    name = given[0]
    if config.data is None:
        raise InputError(f"{name} applies to your own data (data= or --data); task "
                         f"{config.task or 'mnist'!r} is built in. Received: "
                         f"{name}={getattr(config, name)!r}. Remove it.")
    if modality is None:
        return
    table = pathlib.Path(config.data).suffix.lower() in (".csv", ".tsv", ".jsonl")
    for name in ("text_column", "label_column"):
        if getattr(config, name) is not None and not table:
            raise InputError(f"{name} names a column of a CSV/TSV/JSONL file; {config.data!r} "
                             f"is not one. Received: {name}={getattr(config, name)!r}. "
                             "Remove it.")
    if config.image_size is not None and modality != "image":
        raise InputError(f"image_size resizes images; {config.data!r} holds {modality}. "
                         f"Received: image_size={config.image_size!r}. Remove it.")


def _check_settings(config):
    """The choices and numbers that need no data to check."""
    if config.objective is not None:
        _check_choice("objective", config.objective, OBJECTIVES)
    if config.mixed_precision not in ("auto", True, False):
        raise InputError(f"mixed_precision must be True, False or \"auto\" (bfloat16 where "
                         f"the CPU computes it natively). Received: "
                         f"mixed_precision={config.mixed_precision!r}")
    if config.class_weights not in (None, True, False):
        raise InputError(f"class_weights must be True, False or None (automatic). "
                         f"Received: class_weights={config.class_weights!r}")
    _check_choice("tuner", config.tuner, TUNERS)
    _check_choice("strategy", config.strategy, STRATEGIES)
    for name in ("seeds", "ensemble"):
        _positive(name, getattr(config, name))
    if config.cv is not None and _positive("cv", config.cv) < 2:
        raise InputError(f"cv must be at least 2 folds. Received: cv={config.cv!r}")
    if config.cv and config.init_from:
        raise InputError("cv does not combine with init_from: fine-tuning is compared with "
                         "training from scratch on one split. Remove one of them.")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise InputError(f"seed must be a non-negative integer. Received: seed={config.seed!r}")
    if config.verbose not in (0, 1, 2):  # True and False count as 1 and 0
        raise InputError(f"verbose must be 0 (silent), 1 or 2. Received: "
                         f"verbose={config.verbose!r}")


def _tuner(tuner, cv):
    """The tuner asked for, else hyperband (random with `cv`: Hyperband continues trials
    from checkpoints, which cross-validation's folds cannot share)."""
    if tuner is None:
        return "random" if cv else "hyperband"
    if cv and tuner == "hyperband":
        raise InputError(f"cv trains each configuration from scratch on {cv} folds; hyperband "
                         "continues trials from checkpoints trained on other folds, which saw "
                         "this fold's validation data. Use tuner random, bayesian or grid with "
                         "cv, or leave the tuner unset (random).")
    return tuner


def _check_roles(config):
    """Chief/worker and multi-worker settings that do not combine."""
    if config.strategy == "multi_worker" and config.budget:
        raise InputError("--budget is not supported with --strategy multi_worker (each "
                         "machine would decide on its own clock); use --max-trials.")
    if not (config.chief or config.worker is not None):
        return
    from tfopt.scale.roles import check_role

    check_role(config.chief, config.worker, config.chief_address, config.budget)
    if config.strategy == "multi_worker":
        raise InputError("--strategy multi_worker trains one model on every machine of "
                         "TF_CONFIG's cluster; it does not combine with --chief/--worker, "
                         "which run different trials at once. Use one or the other.")


def _check_choice(kind, value, known):
    if value not in known:
        raise InputError(unknown_name_message(kind, value, known))


def _positive(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value
