"""`tfopt report`: a Markdown and a self-contained HTML report of a finished run."""

import csv
import re
import shutil

from tfopt.cli import main


def test_search_writes_both_reports(finished_run):
    markdown = (finished_run.run_dir / "report.md").read_text()
    accuracy = finished_run.results["test_accuracy"]
    assert f"| test accuracy | {accuracy:.4f} |" in markdown
    assert finished_run.results["data_source"] in markdown
    with open(finished_run.run_dir / "trials.csv") as f:
        trial_ids = [row["trial_id"] for row in csv.DictReader(f)]
    table = markdown.split("## Trials, best first")[1].split("## ")[0]
    assert sorted(re.findall(r"^\| (\d+) \| COMPLETED", table, re.M)) == sorted(trial_ids)


def test_candidates_seeds_and_exports_are_side_by_side(finished_run):
    markdown = (finished_run.run_dir / "report.md").read_text()
    results = finished_run.results
    for name, label in (("checkpoint", "best trial's checkpoint"),
                        ("retrained", r"best trial retrained \(seed 0; every seed below\)"),
                        ("ensemble", "ensemble")):
        accuracy = results["candidates"][name]["accuracy"]
        assert re.search(rf"^\| {label} \|.*\| {accuracy:.4f} \|", markdown, re.M), name
    mean, std = results["retrain"]["test_accuracy_mean"], results["retrain"]["test_accuracy_std"]
    assert f"| mean ± std | {mean:.4f} ± {std:.4f} |" in markdown
    for row in results["exports"]:
        assert f"| {row['format']} | {row['path']} |" in markdown


def test_html_is_self_contained_with_its_plots(finished_run):
    page = (finished_run.run_dir / "report.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,[A-Za-z0-9+/=]+'", page)) == 6
    assert "http://" not in page and "https://" not in page and "<style>" in page
    for title in ("Optimization history", "Learning curves", "Confusion matrix",
                  "Hyperparameters of the trials", "Hyperparameter importance", "Calibration",
                  "Wall time per trial"):
        assert f"<h2>{title}" in page
    # 3 trials: importance is one line, not a blank figure
    assert "<p class='note'>Not computed: it needs at least 5 completed trials, and this run " \
           "has 3.</p>" in page
    sizes = finished_run.results["data_sizes"]
    assert f"<b>{sizes['train']:,} / {sizes['val']:,} / {sizes['test']:,}</b>" in page
    assert "{'train'" not in page  # no Python dict repr


def test_the_trials_table_formats_numbers_and_marks_early_stops():
    from tfopt.results.report import _trials_section

    trials = [{"trial_id": "3", "status": "COMPLETED", "lr": "0.0012345678", "units": "128",
               "val_accuracy": "0.912345", "best_epoch": "2", "epochs_run": "5",
               "seconds": "1234.567", "ended_at": "1796690001.75", "stopped_early": "True"}]
    name, header, rows = _trials_section(trials, "val_accuracy")
    assert header == ["trial", "status", "val_accuracy", "best epoch", "epochs", "seconds", "lr",
                      "units"]
    assert rows == [["3", "COMPLETED", "0.9123", "2", "5 (stopped early)", "1,235", "0.001235",
                     "128"]]


def test_history_times_come_from_when_trials_ended():
    from tfopt.results.report import _history

    trials = [{"trial_id": "1", "val_accuracy": "0.8", "seconds": "60", "ended_at": "1180"},
              {"trial_id": "0", "val_accuracy": "", "seconds": "30", "ended_at": "1030"}]
    assert _history(trials, "val_accuracy") == ([("0", 0.5, None), ("1", 3.0, 0.8)], True)
    trials[0]["ended_at"] = ""  # a run written before trials.csv had ended_at: seconds added up
    assert _history(trials, "val_accuracy") == ([("0", 0.5, None), ("1", 1.5, 0.8)], False)
    trials.append({"trial_id": "10", "val_accuracy": "0.9", "seconds": "30", "ended_at": ""})
    assert [row[0] for row in _history(trials, "val_accuracy")[0]] == ["0", "1", "10"]


def test_importance_and_hyperparameter_plots_say_in_one_line_why_they_are_missing():
    from tfopt.results.report import _importance_figure, _parallel_figure

    assert _importance_figure({}, 4) == ("Hyperparameter importance", None, "Not computed: it "
                                         "needs at least 5 completed trials, and this run has 4.")
    assert _importance_figure({"lr": 0.0, "units": 0.0}, 9).png is None
    assert _importance_figure({"lr": 0.7, "units": 0.3}, 9).png.startswith(b"\x89PNG")
    one = [{"trial_id": "0", "status": "COMPLETED", "lr": "0.1", "val_accuracy": "0.5",
            "best_epoch": "1"}]
    assert _parallel_figure(one, "val_accuracy").png is None
    same = one + [{**one[0], "trial_id": "1", "val_accuracy": "0.6"}]
    assert "differ (2 completed)" in _parallel_figure(same, "val_accuracy").caption
    two = same[:1] + [{**one[0], "trial_id": "1", "lr": "0.01"}]
    assert _parallel_figure(two, "val_accuracy").png.startswith(b"\x89PNG")


def test_cli_rebuilds_the_report(finished_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run.run_dir, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").is_file()
    assert str(copy / "report.html") in capsys.readouterr().out


def test_compare_puts_runs_side_by_side(finished_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run.run_dir, copy)
    assert main(["report", "--compare", str(finished_run.run_dir), str(copy)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| run | task | model | tuner | trials | best validation |")
    results = finished_run.results
    for line, folder in zip(lines[2:], (finished_run.run_dir, copy)):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:5] == [str(folder), "digits", "vgg", "random", "3"]
        assert cells[7] == f"{results['test_accuracy']:.4f}"
    assert len(lines) == 4


def test_report_of_a_missing_run_is_one_line_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfopt: error: Run folder") and len(err.splitlines()) == 1


def test_the_budget_rows_say_how_many_drawn_models_gave_way():
    from tfopt.results.report import _budget_rows

    budget = {"seconds": 600, "max_epochs": 9, "stopped": None, "searched": True,
              "redrawn": 3, "continued": [], "retrain_skipped": False}
    rows = dict(_budget_rows({"tuner": "hyperband", "budget": budget}))
    assert rows["budget: redrawn"].startswith("3 drawn model(s) would not have ended in time")
    assert "budget: redrawn" not in dict(_budget_rows({"tuner": "hyperband",
                                                        "budget": {**budget, "redrawn": 0}}))
