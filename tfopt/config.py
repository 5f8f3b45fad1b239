"""Search settings: one frozen dataclass, filled from the task's defaults and validated."""

import dataclasses
import datetime
import json
import pathlib

from tfopt.tuning.budget import parse_budget
from tfopt.data.download import resolve_data_dir
from tfopt.durable import write_json
from tfopt.errors import InputError
from tfopt.choices import EXPORTS, MODELS, OBJECTIVES, STRATEGIES, TUNERS, unknown_name_message
from tfopt.data.tasks import default_budget, get_task, user_task

CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """What to search. `resolved()` fills the model and folder; `with_trial_budget` the budget."""

    task: str = None
    data: str = None
    model: str = None
    tuner: str = "hyperband"
    max_trials: int = None
    epochs: int = None
    out: str = None
    seed: int = 0
    data_dir: str = None
    strategy: str = "auto"
    mixed_precision: object = False  # True, False, or "auto" (bfloat16 on CPUs that have it)
    retrain: bool = True
    seeds: int = 1
    ensemble: int = 1
    average_checkpoint: bool = True
    export: tuple = ()
    text_column: str = None
    label_column: str = None
    image_size: object = None
    skip_bad: bool = False
    class_weights: bool = None
    objective: str = None
    space: dict = None
    custom_model: str = None
    init_from: str = None
    budget: object = None  # wall-clock seconds (or "90s", "10m", "2h"); None: no limit

    @property
    def name(self):
        """The task's name, or for own data a name made from the data's path."""
        return self.task_info().name

    def task_info(self):
        """The registered `Task`, or one made for the user's data at `data`."""
        if self.data is None:
            return get_task(self.task or "mnist")
        return user_task(self.data, text_column=self.text_column,
                         label_column=self.label_column, image_size=self.image_size,
                         skip_bad=self.skip_bad)

    def resolved(self):
        """Returns a validated copy with the task's defaults filled in.

        Raises:
            InputError: naming the bad setting, what was received and what is allowed.
        """
        if self.task and self.data:
            raise InputError(f"Give a built-in task or your own data, not both. Received: "
                             f"task={self.task!r} and data={self.data!r}.")
        task = self.task_info()
        model = self.model or task.default_model
        if self.custom_model:
            model = "custom"
        else:
            _check_choice("model", model, MODELS)
            if MODELS[model] != task.modality:
                fits = [m for m, kind in MODELS.items() if kind == task.modality]
                raise InputError(f"Model '{model}' is for {MODELS[model]} data but "
                                 f"{_what(task, self.data)} is {task.modality}. "
                                 f"Use one of: {', '.join(fits)}.")
        if self.init_from:
            model = _source_model(self.init_from, task, self.model, self.custom_model or self.space)
        if self.objective is not None:
            _check_choice("objective", self.objective, OBJECTIVES)
        if self.mixed_precision not in ("auto", True, False):
            raise InputError(f"mixed_precision must be True, False or \"auto\" (bfloat16 where "
                             f"the CPU computes it natively). Received: "
                             f"mixed_precision={self.mixed_precision!r}")
        if self.class_weights not in (None, True, False):
            raise InputError(f"class_weights must be True, False or None (automatic). "
                             f"Received: class_weights={self.class_weights!r}")
        space = _load_space(self.space)
        if space and self.custom_model:
            raise InputError("A search space file or --set applies to tfopt's model families; "
                             "a custom build(hp) declares its own ranges. Remove space=.")
        if space:
            validate_space(model, space)
        _check_choice("tuner", self.tuner, TUNERS)
        _check_choice("strategy", self.strategy, STRATEGIES)
        max_trials = _positive("max_trials", self.max_trials)
        epochs = _positive("epochs", self.epochs)
        _positive("seeds", self.seeds)
        _positive("ensemble", self.ensemble)
        export = (self.export,) if isinstance(self.export, str) else tuple(self.export or ())
        for name in export:
            _check_choice("export", name, EXPORTS)
        budget = parse_budget(self.budget)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer. Received: seed={self.seed!r}")
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.out or f"runs/{task.name}-{model}-{self.tuner}-{stamp}"
        data, init_from = (str(pathlib.Path(path).expanduser().resolve()) if path else None
                           for path in (self.data, self.init_from))
        resolved = dataclasses.replace(self, task=None if data else task.name, data=data,
                                       model=model, max_trials=max_trials, epochs=epochs,
                                       out=str(out), export=export, space=space or None,
                                       init_from=init_from, budget=budget)
        resolved.check_run_dir()
        resolve_data_dir(self.data_dir)
        return resolved

    def with_trial_budget(self, train_size):
        """Copy with `epochs`/`max_trials` left unset taken from `default_budget`."""
        epochs, max_trials = default_budget(train_size)
        return dataclasses.replace(self, epochs=self.epochs or epochs,
                                   max_trials=self.max_trials or max_trials)

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
                        f"{_label(dataclasses.asdict(self))}" +
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
        write_json(run_dir / CONFIG_FILE, dataclasses.asdict(self), indent=2)  # workers share it
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
    from tfopt.tuning.hypermodels import base_space
    from tfopt.tuning.space import apply_space

    base, addable = base_space(model)
    apply_space(space, base, addable=addable)


def _check_choice(kind, value, known):
    if value not in known:
        raise InputError(unknown_name_message(kind, value, known))


def _positive(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value
