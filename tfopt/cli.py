"""Command line: `tfopt search | report | predict | tasks`. Exit 0 on success, 2 on bad input."""

import argparse
import os
import sys
import time

from tfopt.errors import InputError, SearchError
from tfopt.choices import EXPORTS, OBJECTIVES

EXIT_BAD_INPUT = 2
EXIT_SEARCH_FAILED = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line and exit code 2, like every other bad input."""
        self.exit(EXIT_BAD_INPUT, f"tfopt: error: {message} (see `tfopt {self.prog.split()[-1]} --help`)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received '{text}'")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received '{text}'")
    return value


def _non_negative_int(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, received '{text}'")
    return int(text)


def build_parser():
    parser = _Parser(prog="tfopt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    tasks = commands.add_parser("tasks", help="list the built-in tasks")
    tasks.set_defaults(run=_run_tasks)

    search = commands.add_parser("search", help="tune a model on a task or on your own data")
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--task", help="built-in task (see `tfopt tasks`)")
    what.add_argument("--data", help="your own data: a folder with a sub-folder per class "
                                     "(images or .txt files, optionally under train/val/test), "
                                     "a .csv/.tsv/.jsonl file of texts and labels, or an .npz "
                                     "with x and y (read only, never written to)")
    search.add_argument("--text-column", help="text column of a CSV/TSV/JSONL (default: inferred)")
    search.add_argument("--label-column",
                        help="label column of a CSV/TSV/JSONL (default: inferred)")
    search.add_argument("--image-size", help="resize images to N or HxW pixels (default: the "
                                             "most common size, at most 128 a side)")
    search.add_argument("--skip-bad", action="store_true",
                        help="skip and count unreadable images and empty rows instead of stopping")
    search.add_argument("--class-weights", action=argparse.BooleanOptionalAction, default=None,
                        help="balanced class weights (default: on when the largest class has "
                             "over 3x the examples of the smallest)")
    search.add_argument("--objective", choices=OBJECTIVES,
                        help="what trials are ranked by (default val_accuracy; "
                             "val_balanced_accuracy on imbalanced data)")
    search.add_argument("--model", help="vgg, textcnn or transformer (default: the task's or "
                                        "the data's)")
    search.add_argument("--space", help="YAML or JSON file that narrows, widens, fixes or adds "
                                        "hyperparameters (see `tfopt space`)")
    search.add_argument("--init-from", metavar="RUN_DIR",
                        help="fine-tune a finished run's network on this data (new classifier; "
                             "frozen blocks and learning rate tuned; compared with training "
                             "from scratch)")
    search.add_argument("--set", action="append", default=[], metavar="NAME=VALUES",
                        help="one hyperparameter: lr=1e-4..1e-2:log, optimizer=adam,adamw or "
                             "dropout=0.3 (repeatable; wins over --space)")
    search.add_argument("--tuner", default="hyperband", help="hyperband, random, bayesian or grid")
    search.add_argument("--max-trials", type=_positive_int, help="most trials to run")
    search.add_argument("--epochs", type=_positive_int,
                        help="epochs per trial (max_epochs for hyperband)")
    search.add_argument("--budget", help="wall-clock limit of the whole search: 90s, 10m, 2h; "
                                         "no trial is started that would not end in time")
    search.add_argument("--plan", action="store_true", dest="plan_only",
                        help="print the trial/epoch plan and the estimated time (from a short "
                             "timing probe), then stop without searching")
    search.add_argument("--out", help="run folder (default runs/<task>-<model>-<tuner>-<time>)")
    search.add_argument("--seed", type=_non_negative_int, default=0)
    search.add_argument("--data-dir", help="folder searched for data sets before downloading "
                                           "(default $TFOPT_DATA_DIR)")
    search.add_argument("--strategy", default="auto",
                        help="auto, default, mirrored, multi_worker (cluster from TF_CONFIG) "
                             "or tpu")
    search.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="mixed float16 (GPU) / bfloat16 (CPU, TPU) training (default off)")
    search.add_argument("--retrain", action=argparse.BooleanOptionalAction, default=True,
                        help="retrain the best hyperparameters on train+validation for the best "
                             "trial's epoch count (default on)")
    search.add_argument("--seeds", type=_positive_int, default=1,
                        help="retrain with K seeds and report mean and spread (default 1)")
    search.add_argument("--ensemble", type=_positive_int, default=1,
                        help="final model averages the K best trials (default 1: no ensemble)")
    search.add_argument("--average-checkpoint", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="final model averages the retrained best trial with its checkpoint "
                             "(default on: no more training; --no-average-checkpoint keeps one "
                             "network)")
    search.add_argument("--workers", type=_positive_int, metavar="N",
                        help="run the search as a chief and N workers on this machine "
                             "(keras-tuner's distributed tuning over loopback)")
    search.add_argument("--gpus-per-trial", type=_non_negative_int, default=0, metavar="G",
                        help="with --workers: give each worker G of the visible GPUs")
    search.add_argument("--chief", action="store_true",
                        help="serve this search's trials to workers, then build the final model")
    search.add_argument("--worker", metavar="ID",
                        help="train trials the chief at --chief-address hands out")
    search.add_argument("--chief-address", metavar="HOST:PORT",
                        help="the chief's address (default 127.0.0.1:8470; a chief binds it)")
    search.add_argument("--export", action="append", choices=EXPORTS, default=[],
                        help="also export TensorFlow Lite (float32, dynamic-range int8, float16)")
    search.set_defaults(run=_run_search)

    space = commands.add_parser("space", help="print a model family's search space")
    space.add_argument("--model", required=True, help="vgg, textcnn or transformer")
    space.add_argument("--format", choices=("table", "yaml"), default="table",
                       help="a table, or YAML to start a --space file from")
    space.set_defaults(run=_run_space)

    report = commands.add_parser("report", help="write report.md and report.html for a run, "
                                                "or compare runs")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished run folder(s)")
    report.add_argument("--compare", action="store_true",
                        help="print a table of the runs side by side instead")
    report.set_defaults(run=_run_report)

    predict = commands.add_parser("predict", help="classify raw images or text with a run's "
                                                  "final model")
    predict.add_argument("run_dir", help="a finished run folder")
    predict.add_argument("--input", required=True,
                         help="image runs: a folder of PNG/JPEG/BMP/GIF files or one image; "
                              "text runs: a file with one example per line, or - for stdin")
    predict.set_defaults(run=_run_predict)
    return parser


def _run_tasks(args):
    from tfopt.data.tasks import BUDGETS, TASKS

    print(f"{'task':<14} {'modality':<8} {'model':<8} data")
    for task in TASKS.values():
        print(f"{task.name:<14} {task.modality:<8} {task.default_model:<8} {task.description}")
    print("\nDefault budget (hyperband): " + "; ".join(
        f"{trials} trials, max_epochs {epochs} "
        + (f"up to {limit:,} training examples" if limit != float("inf") else "above that")
        for limit, epochs, trials in BUDGETS))
    return 0


def _run_report(args):
    from tfopt.results.report import build_report, compare

    if args.compare:
        print(compare(args.run_dirs), end="")
        return 0
    for run_dir in args.run_dirs:
        for path in build_report(run_dir):
            print(path)
    return 0


def _run_predict(args):
    from tfopt.results.predict import predict

    predictions = predict(args.run_dir, args.input)
    print("input\tlabel\tprobability")
    for name, label, probability in predictions:
        print(f"{name.replace(chr(9), ' ')}\t{label}\t{probability:.4f}")
    return 0


def _run_space(args):
    from tfopt.choices import MODELS, unknown_name_message

    if args.model not in MODELS:
        raise InputError(unknown_name_message("model", args.model, MODELS))
    from tfopt.tuning.hypermodels import base_space
    from tfopt.tuning.space import describe_space, format_table, to_yaml

    hp, addable = base_space(args.model)
    if args.format == "yaml":
        print(to_yaml(hp), end="")
    else:
        print(format_table(describe_space(hp)))
        if addable:
            print("\nAlso accepted (not tuned by default): " + ", ".join(
                f"{name} (default {value})" for name, value in addable.items()))
    return 0


def _run_search(args):
    roles = {key: getattr(args, key) for key in ("chief", "worker", "chief_address")}
    settings = {key: value for key, value in vars(args).items()
                if key not in ("command", "run", "set", "export", "plan_only", "argv", "started",
                               "workers", "gpus_per_trial", *roles)}
    settings["export"] = tuple(args.export)
    if args.set:
        from tfopt.tuning.space import load_space_file, parse_set

        space = load_space_file(args.space) if args.space else {}
        settings["space"] = {**space, **parse_set(args.set)}
    from tfopt.config import SearchConfig

    config = SearchConfig(**settings).resolved()  # bad input fails before training
    if args.workers:
        from tfopt.scale.chief_worker import check_role
        from tfopt.scale.launch import launch

        check_role(chief=True, budget=config.budget)
        if args.chief or args.worker is not None:
            raise InputError("--workers starts its own chief and workers; leave out --chief "
                             "and --worker.")
        return launch(args.argv, args.workers, config.out, args.gpus_per_trial)
    from tfopt.runner import search

    search(**settings, **roles, plan_only=args.plan_only,
           verbose=1 if sys.stdout.isatty() else 2, _started=args.started)
    return 0


def main(argv=None):
    """Runs the command line; returns the exit code."""
    started = time.time()  # a budget counts from here, TensorFlow's import included
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads
    try:
        args = build_parser().parse_args(argv)
        args.started = started
        args.argv = list(sys.argv[1:] if argv is None else argv)
        args.argv.remove(args.command)  # what follows `tfopt search`, for --workers' processes
    except SystemExit as exit:  # argparse has printed its one line (or --help)
        return exit.code
    try:
        return args.run(args)
    except InputError as error:
        print(f"tfopt: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SearchError as error:
        print(f"tfopt: error: {error}", file=sys.stderr)
        return EXIT_SEARCH_FAILED
    except KeyboardInterrupt:
        print("tfopt: interrupted; finished trials are kept in the run folder "
              "(run the same command with the same --out to resume).", file=sys.stderr)
        return 130
