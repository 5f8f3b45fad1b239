"""Search settings: one frozen dataclass, filled from the task's defaults and validated."""

import dataclasses
import datetime
import json
import pathlib

from tfopt.data.download import resolve_data_dir
from tfopt.export import EXPORTS
from tfopt.errors import InputError
from tfopt.tasks import (MODELS, STRATEGIES, TUNERS, default_budget, get_task,
                         unknown_name_message)

CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """What to search. `resolved()` fills the model and folder; `with_budget` the budget."""

    task: str = "mnist"
    model: str = None
    tuner: str = "hyperband"
    max_trials: int = None
    epochs: int = None
    out: str = None
    seed: int = 0
    data_dir: str = None
    strategy: str = "auto"
    mixed_precision: bool = False
    retrain: bool = True
    seeds: int = 1
    ensemble: int = 1
    export: tuple = ()

    def resolved(self):
        """Returns a validated copy with the task's defaults filled in.

        Raises:
            InputError: naming the bad setting, what was received and what is allowed.
        """
        task = get_task(self.task)
        model = self.model or task.default_model
        _check_choice("model", model, MODELS)
        if MODELS[model] != task.modality:
            fits = [m for m, kind in MODELS.items() if kind == task.modality]
            raise InputError(f"Model '{model}' is for {MODELS[model]} data but task "
                             f"'{task.name}' is {task.modality}. Use one of: {', '.join(fits)}.")
        _check_choice("tuner", self.tuner, TUNERS)
        _check_choice("strategy", self.strategy, STRATEGIES)
        max_trials = _positive("max_trials", self.max_trials)
        epochs = _positive("epochs", self.epochs)
        _positive("seeds", self.seeds)
        _positive("ensemble", self.ensemble)
        export = (self.export,) if isinstance(self.export, str) else tuple(self.export or ())
        for name in export:
            _check_choice("export", name, EXPORTS)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer. Received: seed={self.seed!r}")
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = self.out or f"runs/{task.name}-{model}-{self.tuner}-{stamp}"
        resolved = dataclasses.replace(self, model=model, max_trials=max_trials, epochs=epochs,
                                       out=str(out), export=export)
        resolved.check_run_dir()
        resolve_data_dir(self.data_dir)
        return resolved

    def with_budget(self, train_size):
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
        if run_dir.is_dir() and any(run_dir.iterdir()):
            if not saved.is_file():
                raise InputError(
                    f"--out '{run_dir}' is a non-empty folder that is not a tfopt run; refusing "
                    "to write into it. Choose a new or empty folder.")
            previous = json.loads(saved.read_text())
            for key in ("task", "model", "tuner"):
                if previous.get(key) != getattr(self, key):
                    raise InputError(
                        f"--out '{run_dir}' holds a {previous.get('task')}/{previous.get('model')}/"
                        f"{previous.get('tuner')} run; this search is {self.task}/{self.model}/"
                        f"{self.tuner}. Resume it with the same settings or choose a new --out.")

    def prepare_run_dir(self):
        """Creates (or reopens) the run folder and records this configuration in it."""
        self.check_run_dir()
        run_dir = pathlib.Path(self.out)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"Cannot create --out '{run_dir}': {error.strerror}.") from error
        (run_dir / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2))
        return run_dir


def _check_choice(kind, value, known):
    if value not in known:
        raise InputError(unknown_name_message(kind, value, known))


def _positive(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return value
