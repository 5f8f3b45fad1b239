"""`tfopt report`: a Markdown and a self-contained HTML report of a finished run."""

import csv
import re
import shutil

from tfopt.cli import main


def test_search_writes_both_reports(finished_run):
    markdown = (finished_run.run_dir / "report.md").read_text()
    accuracy = finished_run.results["test_accuracy"]
    assert f"| test accuracy (best trial's checkpoint) | {accuracy:.4f} |" in markdown
    assert finished_run.results["data_source"] in markdown
    with open(finished_run.run_dir / "trials.csv") as f:
        trial_ids = [row["trial_id"] for row in csv.DictReader(f)]
    table = markdown.split("## Trials, best first")[1].split("## ")[0]
    assert sorted(re.findall(r"^\| (\d+) \| COMPLETED", table, re.M)) == sorted(trial_ids)


def test_html_is_self_contained_with_four_plots(finished_run):
    page = (finished_run.run_dir / "report.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,[A-Za-z0-9+/=]+'", page)) == 4
    assert "http://" not in page and "https://" not in page
    for title in ("Learning curves", "Hyperparameter importance", "Confusion matrix",
                  "Calibration"):
        assert f"<h2>{title}" in page


def test_cli_rebuilds_the_report(finished_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run.run_dir, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").is_file()
    assert str(copy / "report.html") in capsys.readouterr().out


def test_report_of_a_missing_run_is_one_line_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfopt: error: Run folder") and len(err.splitlines()) == 1
