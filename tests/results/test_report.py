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
                        ("retrained", "best trial retrained"), ("ensemble", "ensemble")):
        accuracy = results["candidates"][name]["accuracy"]
        assert re.search(rf"^\| {label} \|.*\| {accuracy:.4f} \|", markdown, re.M), name
    mean, std = results["retrain"]["test_accuracy_mean"], results["retrain"]["test_accuracy_std"]
    assert f"| mean ± std | {mean:.4f} ± {std:.4f} |" in markdown
    for row in results["exports"]:
        assert f"| {row['format']} | {row['path']} |" in markdown


def test_html_is_self_contained_with_five_plots(finished_run):
    page = (finished_run.run_dir / "report.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,[A-Za-z0-9+/=]+'", page)) == 5
    assert "http://" not in page and "https://" not in page
    for title in ("Learning curves", "Hyperparameter importance", "Confusion matrix",
                  "Calibration", "Wall time per trial"):
        assert f"<h2>{title}" in page


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
