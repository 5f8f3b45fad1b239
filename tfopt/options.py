"""Every option of a search, declared once.

`OPTIONS` is the one table: `tfopt.config.SearchConfig`'s fields, the `tfopt search`
command line (`add_arguments`), `tfopt.search`'s documented arguments (`docstring`) and
`make search`'s variables (`make_arguments`) are all derived from it. Light on purpose:
no TensorFlow, so the command line checks its arguments before anything heavy loads.
"""

import argparse
import dataclasses
import os
import shlex
import textwrap

from tfopt.choices import EXPORTS, MODELS, OBJECTIVES, STRATEGIES, TUNERS

__all__ = ["GROUPS", "OPTIONS", "Option", "add_arguments", "docstring", "make_arguments"]

GROUPS = ("data", "model and space", "search", "final model", "scale", "run")


def positive_int(text):
    """argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received '{text}'")
    return value


def non_negative_int(text):
    """argparse type: 0 or a positive integer."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, received '{text}'")
    return int(text)


@dataclasses.dataclass(frozen=True)
class Option:
    """One option.

    Attributes:
        name: the `tfopt.search` argument and `SearchConfig` field.
        default: its default in Python and on the command line.
        help: one sentence for `--help` and the docstring.
        group: one of `GROUPS` (the `--help` sections).
        kind: "value" (`--name VALUE`), "flag" (`--name`), "switch" (`--name/--no-name`),
            "append" (repeatable) or "python" (Python only: no command-line flag).
        type: argparse type of a value.
        choices: the accepted values, shown in `--help` (and checked by argparse when
            `argparse_choices`; the others are checked by `SearchConfig.resolved`, which
            suggests a close name).
        metavar: the value's name in `--help`.
        flag: the command-line flag when it is not `--name` with dashes.
        make: the `make search` variable that passes it, if any.
        config: False for what is not part of the search's recorded configuration
            (how it is run, not what is searched).
        python_help: what the docstring adds for Python callers.
    """

    name: str
    default: object
    help: str
    group: str
    kind: str = "value"
    type: object = None
    choices: tuple = None
    argparse_choices: bool = False
    metavar: str = None
    flag: str = None
    make: str = None
    config: bool = True
    python_help: str = ""

    @property
    def cli_flag(self):
        return self.flag or "--" + self.name.replace("_", "-")


OPTIONS = (
    # data
    Option("task", None, "a built-in task (see `tfopt tasks`)", "data", make="TASK",
           python_help=' "mnist" when neither task nor data is given.'),
    Option("data", None, "your own data: a folder with a sub-folder per class (images or .txt "
           "files, optionally under train/val/test), a .csv/.tsv/.jsonl file of texts and "
           "labels, or an .npz with x and y (read only, never written to)", "data", make="DATA"),
    Option("text_column", None, "text column of a CSV/TSV/JSONL (default: inferred)", "data"),
    Option("label_column", None, "label column of a CSV/TSV/JSONL (default: inferred)", "data"),
    Option("image_size", None, "resize images to N or HxW pixels (default: the most common "
           "size, at most 128 a side)", "data", python_help=' Also 64, "64x48" or (64, 48).'),
    Option("skip_bad", False, "skip and count unreadable images and empty rows instead of "
           "stopping", "data", kind="flag"),
    Option("class_weights", None, "balanced class weights (default: on when the largest class "
           "has over 3x the examples of the smallest)", "data", kind="switch"),
    Option("objective", None, "what trials are ranked by (default val_accuracy; "
           "val_balanced_accuracy on imbalanced data)", "data", choices=OBJECTIVES,
           argparse_choices=True),
    Option("data_dir", None, "folder searched for data sets before downloading (default "
           "$TFOPT_DATA_DIR)", "data", make="DATA_DIR"),
    # model and space
    Option("model", None, "the model family (default: the task's or the data's)",
           "model and space", choices=tuple(MODELS), make="MODEL",
           python_help=" Or your own `build(hp)` function or `keras_tuner.HyperModel`."),
    Option("space", None, "a YAML or JSON file that narrows, widens, fixes or adds "
           "hyperparameters (see `tfopt space`)", "model and space", make="SPACE",
           python_help=' Or a dict, e.g. {"learning_rate": {"min": 1e-4, "max": 1e-2, '
                       '"sampling": "log"}, "optimizer": ["adam", "adamw"], "dropout": 0.3}.'),
    Option("set", (), "one hyperparameter: learning_rate=1e-4..1e-2:log, "
           "optimizer=adam,adamw or dropout=0.3 (repeatable; wins over --space)",
           "model and space", kind="append", metavar="NAME=VALUES", config=False),
    Option("init_from", None, "fine-tune a finished run's network on this data (new "
           "classifier; frozen blocks and learning rate tuned; compared with training from "
           "scratch)", "model and space", metavar="RUN_DIR", make="INIT_FROM"),
    # search
    Option("tuner", None, "the search algorithm (default: hyperband; random with --cv)",
           "search", choices=TUNERS, make="TUNER"),
    Option("max_trials", None, "trials to run with any tuner, unless the budget or the space "
           "ends the search sooner; hyperband counts a continued trial as one (default: the "
           "task's, see `tfopt tasks`)",
           "search", type=positive_int, make="TRIALS"),
    Option("epochs", None, "epochs per trial; with hyperband its max_epochs, the most a "
           "trial trains (default: the task's)", "search", type=positive_int, make="EPOCHS"),
    Option("budget", None, "wall-clock limit of the whole search: 90s, 10m, 2h; no trial is "
           "started that would not end in time (default: 20m above 20,000 training examples "
           "when neither --epochs nor --max-trials is given)", "search", make="BUDGET",
           python_help=" Or seconds as a number."),
    Option("cv", None, "score each configuration by its mean over K stratified folds of "
           "train+validation (the test split stays out): K trainings a trial; not with "
           "hyperband", "search", type=positive_int, metavar="K", make="CV"),
    Option("plan_only", False, "print the trial/epoch plan and the estimated time (from a "
           "short timing probe), then stop without searching", "search", kind="flag",
           flag="--plan", make="PLAN", config=False,
           python_help=" Returns the plan as a dict."),
    Option("seed", 0, "seed of the search and of training", "search", type=non_negative_int,
           make="SEED"),
    Option("callbacks", None, "extra Keras callbacks every trial gets (copied per trial)",
           "search", kind="python", config=False),
    # final model
    Option("retrain", True, "retrain the best hyperparameters on train+validation for the best "
           "trial's epoch count (else the final model is its checkpoint)", "final model",
           kind="switch", make="RETRAIN"),
    Option("seeds", None, "retrain with K seeds, report mean and spread, and average "
           "the K models (default: 3 up to 20,000 training examples where two more "
           "retrainings are estimated under a minute, without --budget or --ensemble; "
           "else 1)", "final model",
           type=positive_int, metavar="K", make="SEEDS"),
    Option("ensemble", 1, "the final model averages the K best trials (1: no ensemble)",
           "final model", type=positive_int, metavar="K", make="ENSEMBLE"),
    Option("average_checkpoint", True, "the final model averages the retrained best trial "
           "with its checkpoint (no more training); --no-average-checkpoint keeps one network",
           "final model", kind="switch"),
    Option("export", (), "also export TensorFlow Lite (float32, dynamic-range int8, float16)",
           "final model", kind="append", choices=EXPORTS, argparse_choices=True, make="EXPORT"),
    # scale
    Option("strategy", "auto", "how one model trains (multi_worker: the cluster in "
           "TF_CONFIG)", "scale", choices=STRATEGIES),
    Option("mixed_precision", False, "mixed float16 (GPU) / bfloat16 (CPU, TPU) training",
           "scale", kind="switch",
           python_help=' "auto": bfloat16 on a CPU with native bfloat16, else off.'),
    Option("workers", None, "run the search as a chief and N workers on this machine "
           "(keras-tuner's distributed tuning over loopback)", "scale", type=positive_int,
           metavar="N", make="WORKERS", config=False),
    Option("gpus_per_trial", 0, "with --workers: give each worker G of the visible GPUs",
           "scale", type=non_negative_int, metavar="G", config=False),
    Option("chief", False, "serve this search's trials to workers, then build the final model",
           "scale", kind="flag", config=False),
    Option("worker", None, "train the trials the chief at --chief-address hands out",
           "scale", metavar="ID", config=False,
           python_help=" Returns when the chief has none left (the result's model is None)."),
    Option("chief_address", None, "the chief's address (default 127.0.0.1:8470; a chief "
           "binds it)", "scale", metavar="HOST:PORT", config=False),
    # run
    Option("out", None, "run folder (default runs/<task>-<model>-<tuner>-<time>); an existing "
           "run folder of the same search is resumed", "run", make="OUT"),
    Option("verbose", 1, "0 silent, 1 progress and Keras' progress bars, 2 progress and one "
           "line per epoch (the command line: 1 on a terminal, else 2)", "run", kind="python",
           config=False),
)

_BY_NAME = {option.name: option for option in OPTIONS}


def option(name):
    """The `Option` called `name`."""
    return _BY_NAME[name]


def add_arguments(parser):
    """Adds every command-line option to `parser`, in argument groups, defaults shown."""
    what = parser.add_argument_group("task or data (one is required)").add_mutually_exclusive_group(
        required=True)
    groups = {name: parser.add_argument_group(f"{name} options") for name in GROUPS}
    for opt in OPTIONS:
        if opt.kind == "python":
            continue
        target = what if opt.name in ("task", "data") else groups[opt.group]
        target.add_argument(opt.cli_flag, dest=opt.name, help=_cli_help(opt), **_argparse(opt))


def _argparse(opt):
    if opt.kind == "flag":
        return {"action": "store_true"}
    if opt.kind == "switch":
        return {"action": argparse.BooleanOptionalAction, "default": opt.default}
    settings = {"default": list(opt.default) if opt.kind == "append" else opt.default,
                "metavar": opt.metavar, "type": opt.type}
    if opt.kind == "append":
        settings["action"] = "append"
    if opt.argparse_choices:
        settings["choices"] = opt.choices
    return {key: value for key, value in settings.items() if value is not None}


def _cli_help(opt):
    text = opt.help
    if opt.choices and not opt.argparse_choices:
        text += f": {', '.join(opt.choices)}"
    shown = _has_default(opt) and opt.kind not in ("switch", "append")
    if opt.kind == "switch":
        shown = opt.default is not None
        return text + (f" (default: {'on' if opt.default else 'off'})" if shown else "")
    return text + (f" (default: {opt.default})" if shown else "")


def _has_default(opt):
    """Whether the option has a default worth showing (not None, off or empty)."""
    return not (opt.default is None or opt.default is False or opt.default == ())


def docstring(summary, returns, example):
    """`tfopt.search`'s docstring: `summary`, every Python option's help, `returns`, `example`."""
    lines = [summary, "", "Args:"]
    for opt in OPTIONS:
        if opt.name in ("workers", "gpus_per_trial", "set"):
            continue  # command-line only: they start processes or build `space`
        default = f" Default: {opt.default!r}." if _has_default(opt) else ""
        choices = f" One of: {', '.join(map(repr, opt.choices))}." if opt.choices else ""
        text = f"{opt.name}: {opt.help[0].upper()}{opt.help[1:]}.{choices}{opt.python_help}"
        lines += textwrap.wrap(text + default, width=88, initial_indent="    ",
                               subsequent_indent="        ")
    return "\n".join(lines + ["", "Returns:", f"    {returns}", "", "Example:", example])


def make_arguments(environ=None):
    """The `tfopt search` arguments that `make search VAR=value ...` asks for: each option's
    `make` variable that is set and not empty (RETRAIN=no turns retraining off; PLAN=1 and
    PLAN=yes ask for the plan; DATA wins over TASK)."""
    environ = os.environ if environ is None else environ
    argv = []
    for opt in OPTIONS:
        value = environ.get(opt.make or "", "").strip()
        if opt.name == "task" and environ.get("DATA", "").strip():
            continue  # DATA=... stands in for the task
        if not value:
            continue
        if opt.kind == "switch":
            if value.lower() in ("no", "0", "false", "off"):
                argv.append("--no-" + opt.cli_flag[2:])
            elif value.lower() in ("yes", "1", "true", "on"):
                argv.append(opt.cli_flag)
            else:
                argv += [opt.cli_flag, value]  # argparse refuses it with its own message
        elif opt.kind == "flag":
            if value.lower() in ("yes", "1", "true", "on"):
                argv.append(opt.cli_flag)
        else:
            for part in shlex.split(value) if opt.kind == "append" else [value]:
                argv += [opt.cli_flag, part]
    if "--task" not in argv and "--data" not in argv:
        argv += ["--task", "mnist"]
    return argv

