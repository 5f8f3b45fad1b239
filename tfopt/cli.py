"""Command line: `tfopt search | report | predict | tasks`. Exit 0 on success, 2 on bad input."""

import argparse
import os
import sys

from tfopt.errors import InputError
from tfopt.export import EXPORTS

EXIT_BAD_INPUT = 2


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

    search = commands.add_parser("search", help="tune a model on a task")
    search.add_argument("--task", required=True, help="built-in task (see `tfopt tasks`)")
    search.add_argument("--model", help="vgg, textcnn or transformer (default: the task's)")
    search.add_argument("--tuner", default="hyperband", help="hyperband, random, bayesian or grid")
    search.add_argument("--max-trials", type=_positive_int, help="most trials to run")
    search.add_argument("--epochs", type=_positive_int,
                        help="epochs per trial (max_epochs for hyperband)")
    search.add_argument("--out", help="run folder (default runs/<task>-<model>-<tuner>-<time>)")
    search.add_argument("--seed", type=_non_negative_int, default=0)
    search.add_argument("--data-dir", help="folder searched for data sets before downloading "
                                           "(default $TFOPT_DATA_DIR)")
    search.add_argument("--strategy", default="auto", help="auto, default, mirrored or tpu")
    search.add_argument("--mixed-precision", action="store_true",
                        help="mixed float16 (GPU) / bfloat16 (CPU, TPU) training")
    search.add_argument("--retrain", action=argparse.BooleanOptionalAction, default=True,
                        help="retrain the best hyperparameters on train+validation for the best "
                             "trial's epoch count (default on)")
    search.add_argument("--seeds", type=_positive_int, default=1,
                        help="retrain with K seeds and report mean and spread (default 1)")
    search.add_argument("--ensemble", type=_positive_int, default=1,
                        help="final model averages the K best trials (default 1: no ensemble)")
    search.add_argument("--export", action="append", choices=EXPORTS, default=[],
                        help="also export TensorFlow Lite (float32, dynamic-range int8, float16)")
    search.set_defaults(run=_run_search)

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
    from tfopt.tasks import BUDGETS, TASKS

    print(f"{'task':<14} {'modality':<8} {'model':<8} data")
    for task in TASKS.values():
        print(f"{task.name:<14} {task.modality:<8} {task.default_model:<8} {task.description}")
    print("\nDefault budget (hyperband): " + "; ".join(
        f"{trials} trials, max_epochs {epochs} "
        + (f"up to {limit:,} training examples" if limit != float("inf") else "above that")
        for limit, epochs, trials in BUDGETS))
    return 0


def _run_report(args):
    from tfopt.report import build_report, compare

    if args.compare:
        print(compare(args.run_dirs), end="")
        return 0
    for run_dir in args.run_dirs:
        for path in build_report(run_dir):
            print(path)
    return 0


def _run_predict(args):
    from tfopt.predict import predict

    predictions = predict(args.run_dir, args.input)
    print("input\tlabel\tprobability")
    for name, label, probability in predictions:
        print(f"{name.replace(chr(9), ' ')}\t{label}\t{probability:.4f}")
    return 0


def _run_search(args):
    from tfopt.config import SearchConfig

    config = SearchConfig(task=args.task, model=args.model, tuner=args.tuner,
                          max_trials=args.max_trials, epochs=args.epochs, out=args.out,
                          seed=args.seed, data_dir=args.data_dir, strategy=args.strategy,
                          mixed_precision=args.mixed_precision, retrain=args.retrain,
                          seeds=args.seeds, ensemble=args.ensemble, export=tuple(args.export))
    config.resolved()  # bad names and numbers fail here, before TensorFlow starts
    from tfopt.runner import search

    search(**{k: v for k, v in vars(args).items() if k not in ("command", "run", "export")},
           export=tuple(args.export), verbose=1 if sys.stdout.isatty() else 2)
    return 0


def main(argv=None):
    """Runs the command line; returns the exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # argparse has printed its one line (or --help)
        return exit.code
    try:
        return args.run(args)
    except InputError as error:
        print(f"tfopt: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("tfopt: interrupted; finished trials are kept in the run folder "
              "(run the same command with the same --out to resume).", file=sys.stderr)
        return 130
