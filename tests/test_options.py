"""The option table is the one source: search()'s signature, SearchConfig and the CLI agree."""

import argparse
import dataclasses
import inspect

import pytest

from tfopt.cli import build_parser
from tfopt.config import RECORDED, SearchConfig
from tfopt.options import OPTIONS, make_arguments

CLI_ONLY = {"set", "workers", "gpus_per_trial"}  # they start processes or build `space`


def _search_parameters():
    from tfopt.runner import search

    return {name: p.default for name, p in inspect.signature(search).parameters.items()
            if not name.startswith("_")}


def _search_parser():
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    return commands.choices["search"]


def test_search_signature_matches_the_table():
    table = {o.name: o.default for o in OPTIONS if o.name not in CLI_ONLY}
    assert _search_parameters() == table


def test_config_has_a_field_per_option_with_its_default():
    fields = {f.name: f.default for f in dataclasses.fields(SearchConfig)}
    for option in OPTIONS:
        assert fields[option.name] == option.default, option.name
    assert set(RECORDED) == {o.name for o in OPTIONS if o.config} | {"custom_model"}


def test_cli_has_a_flag_per_option_and_the_same_defaults():
    parser = _search_parser()
    dests = {a.dest: a for a in parser._actions}
    for option in OPTIONS:
        if option.kind == "python":
            assert option.name not in dests, option.name
            continue
        action = dests[option.name]
        assert option.cli_flag in action.option_strings
        default = list(option.default) if option.kind == "append" else option.default
        assert action.default == default, option.name


def test_help_groups_the_options_and_shows_defaults():
    text = _search_parser().format_help()
    for group in ("data options", "model and space options", "search options",
                  "final model options", "scale options", "run options"):
        assert group in text
    assert "(default: 0)" in text and "(default: on)" in text  # --seed, --retrain
    assert "(default: hyperband; random with --cv)" in " ".join(text.split())


def test_the_docstring_lists_every_python_option():
    from tfopt.runner import search

    for name in _search_parameters():
        assert f"    {name}: " in search.__doc__, name


@pytest.mark.parametrize("environ, argv", [
    ({}, ["--task", "mnist"]),
    ({"TASK": "digits", "TRIALS": "2", "EPOCHS": "3"},
     ["--task", "digits", "--max-trials", "2", "--epochs", "3"]),
    ({"TASK": "mnist", "DATA": "my folder", "RETRAIN": "no", "PLAN": "1", "EXPORT": "tflite"},
     ["--data", "my folder", "--plan", "--no-retrain", "--export", "tflite"]),
    ({"TASK": "mr", "PLAN": "", "RETRAIN": "yes", "BUDGET": "5m"},
     ["--task", "mr", "--budget", "5m", "--retrain"]),
])
def test_make_variables_become_cli_arguments(environ, argv):
    assert make_arguments(environ) == argv
    assert build_parser().parse_args(["search", *argv]).command == "search"


def test_make_search_prints_the_command_line_it_runs(capsys):
    from tfopt.cli import make_search

    assert make_search({"TASK": "mnsit", "TRIALS": "2"}) == 2  # bad input: exit code 2
    printed = capsys.readouterr()
    assert printed.out.splitlines()[0] == "tfopt search --task mnsit --max-trials 2"
    assert "Did you mean 'mnist'?" in printed.err
