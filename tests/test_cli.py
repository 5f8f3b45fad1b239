"""The command line end to end on digits, and every bad input: one line, exit code 2."""

import dataclasses
import json
import re
import os
import shutil
import subprocess
import sys

import pytest

from tfopt.cli import main


def test_search_on_digits_writes_the_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--task", "digits", "--max-trials", "2", "--epochs", "2",
                 "--out", str(out), "--seed", "3", "--no-retrain"]) == 0
    printed = capsys.readouterr().out
    assert "[tfopt] plan: hyperband, up to 2 trials, 4 epochs in all" in printed
    # one numbering: a trial is named by its id; "2 of 2" only counts progress
    assert re.search(r"^\[tfopt\] trial 1 \(2 of 2[,)]", printed, re.M)
    assert re.search(r"^\[tfopt\] trial 1 done: val_accuracy=.* best so far [.\d]+ \(trial "
                     r"[01]\)$", printed, re.M)
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "digits" and results["model"] == "vgg"
    assert results["data_source"].startswith("scikit-learn bundled digits")
    assert results["trials_run"] == 2 and results["seed"] == 3
    assert 0.5 < results["test_accuracy"] <= 1.0  # chance is 0.1
    assert 0.5 < results["best_validation_score"] <= 1.0
    best_hp = json.loads((out / "best_hyperparameters.json").read_text())
    assert best_hp == results["best_hyperparameters"] and "learning_rate" in best_hp
    assert results["final_model"] == "checkpoint" and results["retrain"] is None
    assert results["test_accuracy"] == pytest.approx(results["checkpoint"]["test_accuracy"])
    assert "retrain" not in printed
    assert (out / "final_model.keras").is_file() and (out / "saved_model").is_dir()
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["final", "summary", "trial_0",
                                                                "trial_1"]


def test_average_checkpoint_is_on_unless_turned_off():
    from tfopt.cli import build_parser
    from tfopt.config import SearchConfig

    parser = build_parser()
    assert parser.parse_args(["search", "--task", "digits"]).average_checkpoint is True
    assert parser.parse_args(["search", "--task", "digits",
                              "--no-average-checkpoint"]).average_checkpoint is False
    assert SearchConfig().average_checkpoint is True


def test_version_is_the_packages(capsys):
    from tfopt import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"tfopt {__version__}\n"


def test_tasks_lists_every_task(capsys):
    assert main(["tasks"]) == 0
    listing = capsys.readouterr().out
    for name in ("mnist", "fashion_mnist", "cifar10", "digits", "mr", "imdb"):
        assert f"\n{name} " in listing


@pytest.mark.parametrize("argv, message", [
    (["search", "--task", "mnsit"], "Unknown task 'mnsit'"),
    (["search", "--task", "mnist", "--model", "bert"], "Unknown model 'bert'"),
    (["search", "--task", "mnist", "--tuner", "grd"], "Did you mean 'grid'?"),
    (["search", "--task", "mnist", "--epochs", "0"], "expected a positive integer, received '0'"),
    (["search", "--task", "mnist", "--max-trials", "many"], "received 'many'"),
    (["search", "--task", "mnist", "--seed", "-4"], "non-negative integer, received '-4'"),
    (["search", "--task", "mnist", "--data-dir", "/no/such"], "does not exist"),
    (["search", "--task", "mnist", "--out", "setup.cfg"], "is a file"),
    (["search", "--task", "mnist", "--out", "setup.cfg/run"], "--out 'setup.cfg/run' is under "),
    (["search", "--task", "mnist", "--out", "/proc/tfopt-run"], "cannot write in '/proc'"),
    (["search"], "one of the arguments --task --data is required"),
    (["search", "--task", "mnist", "--data", "x.csv"], "not allowed with argument"),
    (["search", "--data", "/no/such/folder"], "'/no/such/folder' does not exist"),
    (["search", "--task", "digits", "--objective", "f1"], "invalid choice: 'f1'"),
    (["search", "--task", "digits", "--set", "dropout"], "dropout"),
    (["search", "--task", "digits", "--set", "droput=0.2"], "Did you mean 'dropout'?"),
    (["search", "--task", "digits", "--set", "learning_rate=1e-2..1e-4:log"], "Empty range"),
    (["search", "--task", "digits", "--space", "no_such.yaml"], "no_such.yaml"),
    (["search", "--task", "mr", "--set", "blocks=2"], "Unknown hyperparameter 'blocks'"),
    (["space", "--model", "vgx"], "Unknown model 'vgx'"),
    (["search", "--task", "digits", "--seeds", "0"], "received '0'"),
    (["search", "--task", "digits", "--ensemble", "three"], "received 'three'"),
    (["search", "--task", "digits", "--export", "onnx"], "invalid choice: 'onnx'"),
    (["search", "--task", "digits", "--budget", "10x"], "budget must be a time like 90s"),
    (["search", "--task", "digits", "--budget", "0m"], "more than 0 seconds"),
    (["search", "--task", "digits", "--worker", "1"], "--worker needs --chief-address"),
    (["search", "--task", "digits", "--worker", "../1", "--chief-address", "127.0.0.1:9"],
     "Unsafe worker id '../1'"),
    (["search", "--task", "digits", "--chief", "--chief-address", "nowhere"], "HOST:PORT"),
    (["search", "--task", "digits", "--chief", "--worker", "2"], "either the chief"),
    (["search", "--task", "digits", "--workers", "2", "--budget", "5m"],
     "--budget is not supported with --chief/--worker"),
    (["search", "--task", "digits", "--workers", "0"], "expected a positive integer"),
    (["search", "--task", "digits", "--strategy", "multi_worker", "--budget", "5m"],
     "--budget is not supported with --strategy multi_worker"),
    (["search", "--task", "digits", "--strategy", "multi_worker", "--chief"],
     "does not combine with --chief/--worker"),
    (["report", "--compare"], "required: RUN_DIR"),
    (["predict", "runs/x"], "required: --input"),
    (["frobnicate"], "Unknown command 'frobnicate'. Known commands: predict, report, search, "
                     "space, tasks. (see `tfopt --help`)"),
    (["serch", "--task", "digits"], "Unknown command 'serch'. Known commands: predict, report, "
                                    "search, space, tasks. Did you mean 'search'?"),
    (["search", "--task", "digits", "--strategy", "gpus"], "Known strategies: auto"),
    (["search", "--task", "digits", "--image-size", "0"], "image_size applies to your own data"),
    (["search", "--task", "digits", "--text-column", "review"], "text_column applies to your "
                                                                "own data"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_subprocess_smoke_bad_input_has_no_traceback(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "tfopt", "search", "--task", "digits",
                           "--tuner", "annealing"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("tfopt: error: Unknown tuner 'annealing'. Known tuners: "
                                   "bayesian, grid, hyperband, random.")


def _quiet_env():
    """The environment of a user who set nothing: TensorFlow's start-up lines not asked for."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def test_an_unknown_hyperparameter_is_one_line_without_tensorflows_start_up_lines():
    # checking --set's names loads the family's space, and with it TensorFlow
    done = subprocess.run([sys.executable, "-m", "tfopt", "search", "--task", "digits", "--set",
                           "lr=1e-4..1e-2:log"], capture_output=True, text=True,
                          env=_quiet_env(), timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith("tfopt: error: Unknown hyperparameter 'lr'. Known "
                                  "hyperparameters: ") and len(done.stderr.splitlines()) == 1


def test_space_prints_without_tensorflows_start_up_lines():
    done = subprocess.run([sys.executable, "-m", "tfopt", "space", "--model", "vgg"],
                          capture_output=True, text=True, env=_quiet_env(), timeout=300)
    assert done.returncode == 0 and done.stderr == ""
    assert "learning_rate" in done.stdout


def test_report_rebuilds_without_tensorflows_start_up_lines(finished_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run.run_dir, copy)
    done = subprocess.run([sys.executable, "-m", "tfopt", "report", str(copy)],
                          capture_output=True, text=True, env=_quiet_env(), timeout=300)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == [str(copy / "report.md"), str(copy / "report.html")]


def test_space_prints_the_familys_table_and_yaml(capsys):
    assert main(["space", "--model", "vgg"]) == 0
    table = capsys.readouterr().out
    assert "learning_rate" in table and "1e-4 .. 1e-2, log" in table.replace("0.0001", "1e-4")
    assert "flip (default False)" in table
    assert main(["space", "--model", "textcnn", "--format", "yaml"]) == 0
    import yaml

    space = yaml.safe_load(capsys.readouterr().out)
    assert space["kernel_sizes"] == ["3,4,5", "2,3,4", "3,5,7"]
    assert space["learning_rate"]["sampling"] == "log"


def _digit_folder(root, counts):
    """An image folder of real scikit-learn digits, `counts` images of each named class."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == label][:count]):
            Image.fromarray((image * 16).clip(0, 255).astype("uint8")).save(
                root / name / f"{i}.png")
    return root


def _snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


def test_search_on_an_imbalanced_image_folder_says_what_it_inferred(tmp_path, capsys):
    folder = _digit_folder(tmp_path / "digits", {"zero": 120, "one": 120, "two": 25})
    before = _snapshot(folder)
    out = tmp_path / "run"
    assert main(["search", "--data", str(folder), "--tuner", "random", "--max-trials", "2",
                 "--epochs", "2", "--out", str(out), "--set", "blocks=1"]) == 0
    printed = capsys.readouterr().out
    assert "[tfopt] inferred: image data (images 8x8x1), 3 classes (train: one 86, two 18, " \
           "zero 86)" in printed
    assert "imbalance 4.8:1 (above 3:1); class weights on (one 0.74, two 3.52, zero 0.74); " \
           "objective val_balanced_accuracy" in printed
    assert "[tfopt] model: vgg (default for image data; --model to change)" in printed
    assert "[tfopt] search space: your ranges for blocks" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "digits" and results["data"] == str(folder)
    assert results["objective"] == "val_balanced_accuracy"
    assert results["class_names"] == ["one", "two", "zero"] and results["input_shape"] == [8, 8, 1]
    assert results["best_hyperparameters"]["blocks"] == 1
    assert "Data: imbalance 4.8:1" in (out / "report.md").read_text()
    assert _snapshot(folder) == before  # nothing written into the user's folder
    assert main(["predict", str(out), "--input", str(folder / "two")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 25


def test_a_corrupt_image_is_named_with_exit_code_2_and_nothing_written(tmp_path, capsys):
    folder = _digit_folder(tmp_path / "digits", {"zero": 10, "one": 10})
    (folder / "one" / "broken.png").write_bytes(b"\x89PNG not really")
    before = _snapshot(folder)
    assert main(["search", "--data", str(folder), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "one/broken.png' is not a readable image" in err and "--skip-bad" in err
    assert len(err.strip().splitlines()) == 1
    assert _snapshot(folder) == before and not (tmp_path / "run").exists()


def test_plan_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--task", "digits", "--plan", "--budget", "2m", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[tfopt] plan: hyperband, one round of its brackets:" in printed
    assert "Budget 2 min" in printed and "trial 1" not in printed
    assert not out.exists()


def test_a_budget_counts_from_the_command_lines_start_imports_included(monkeypatch, capsys):
    import time

    from tfopt import runner

    real_run, seen = runner.run, {}

    def run(config):
        seen["started"] = config.started
        # as if TensorFlow's import had taken 29 of the 30 s
        return real_run(dataclasses.replace(config, started=config.started - 29))

    monkeypatch.setattr(runner, "run", run)
    before = time.time()
    assert main(["search", "--task", "digits", "--plan", "--budget", "30s"]) == 0
    assert before <= seen["started"] <= time.time()
    assert "budget: 30 s is shorter than one trial" in capsys.readouterr().out
