"""Command line: `tfopt search | report | predict | tasks | space`. Exit 0 on success, 2 on
bad input."""

import argparse
import os
import shlex
import sys
import time

from tfopt import __version__
from tfopt.errors import InputError, SearchError
from tfopt.log import show
from tfopt.options import OPTIONS, add_arguments, make_arguments

EXIT_BAD_INPUT = 2
EXIT_SEARCH_FAILED = 1
# Command-line options that start processes or build the space instead of configuring one search.
_LAUNCH = ("set", "workers", "gpus_per_trial")


class _Parser(argparse.ArgumentParser):
    words = ()  # the command line's words (set on the top-level parser by `main`)
    commands = ()  # the command names

    def error(self, message):
        """One line and exit code 2, like every other bad input; it names the command's help
        (the top-level parser reports a command's unknown arguments: the command in argv)."""
        command = self.prog.split()[-1]
        if command == "tfopt":
            command = next((word for word in self.words if word in self.commands), None)
            message = _suggest_command(message, self.words, self.commands)
        self.exit(EXIT_BAD_INPUT, f"tfopt: error: {message} (see "
                                  f"`tfopt {command + ' ' if command else ''}--help`)\n")


def _suggest_command(message, words, commands):
    """argparse's message for an unknown command, with the closest command named."""
    from tfopt.choices import unknown_name_message

    unknown = next((word for word in words if not word.startswith("-")), None)
    if unknown is None or unknown in commands or "invalid choice" not in message:
        return message
    return unknown_name_message("command", unknown, commands)


def build_parser():
    parser = _Parser(prog="tfopt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tfopt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    tasks = commands.add_parser("tasks", help="list the built-in tasks")
    tasks.set_defaults(run=_run_tasks)

    search = commands.add_parser("search", help="tune a model on a task or on your own data",
                                 description="Tune a model on a built-in task or on your own "
                                             "data.")
    add_arguments(search)
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
    predict.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder")
    predict.add_argument("--input", required=True,
                         help="image runs: a folder of PNG/JPEG/BMP/GIF files or one image; "
                              "text runs: a file with one example per line, or - for stdin")
    predict.set_defaults(run=_run_predict)
    parser.commands = tuple(commands.choices)
    return parser


def _run_tasks(args):
    from tfopt.data.tasks import SEARCH_DEFAULTS, TASKS

    print(f"{'task':<14} {'modality':<8} {'model':<8} data")
    for task in TASKS.values():
        print(f"{task.name:<14} {task.modality:<8} {task.default_model:<8} {task.description}")
    print("\nDefault search (hyperband): " + "; ".join(
        (f"{trials} trials, max_epochs {epochs}, up to {limit:,} training examples"
         if budget is None else f"above that, a {budget / 60:.0f}-minute budget")
        + (f" (the final model averages {seeds} retrainings)" if seeds > 1 else "")
        for limit, epochs, trials, budget, seeds in SEARCH_DEFAULTS))
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
    from tfopt.backend import import_tensorflow_quietly

    import_tensorflow_quietly()  # the families' spaces are declared with Keras
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
    from tfopt.config import SearchConfig

    settings = {option.name: getattr(args, option.name) for option in OPTIONS
                if option.kind != "python" and option.name not in _LAUNCH}
    settings["export"] = tuple(args.export)
    if args.set:
        from tfopt.tuning.space import load_space_file, parse_set

        space = load_space_file(args.space) if args.space else {}
        settings["space"] = {**space, **parse_set(args.set)}
    if args.workers and (args.chief or args.worker is not None):
        raise InputError("--workers starts its own chief and workers; leave out --chief "
                         "and --worker.")
    verbose = 1 if sys.stdout.isatty() else 2
    show(verbose)
    config = SearchConfig(**settings, verbose=verbose, started=args.started).resolved()
    if args.workers:  # bad input fails above, before any process starts
        from tfopt.scale.launch import launch
        from tfopt.scale.roles import check_role

        check_role(chief=True, budget=config.budget)
        return launch(args.argv, args.workers, config.out, args.gpus_per_trial)
    from tfopt.backend import import_tensorflow_quietly

    import_tensorflow_quietly()  # without its C++ start-up lines
    from tfopt import runner

    runner.run(config)
    return 0


def make_search(environ=None):
    """`make search`: `tfopt search` with the Make variables that are set (TASK=digits,
    TRIALS=3, ...; `tfopt.options.make_arguments`), its command line printed first."""
    argv = make_arguments(environ)
    print("tfopt search " + shlex.join(argv), flush=True)
    return main(["search", *argv])


def main(argv=None):
    """Runs the command line; returns the exit code."""
    started = time.time()  # a budget counts from here, TensorFlow's import included
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads
    show(1)  # the library's messages (a search sets its own verbosity)
    try:
        parser = build_parser()
        parser.words = list(sys.argv[1:] if argv is None else argv)
        args = parser.parse_args(argv)
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
