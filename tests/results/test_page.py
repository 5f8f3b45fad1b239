"""The report page's formatting: numbers and durations as people read them."""

import pytest

from tfopt.results import page


@pytest.mark.parametrize("seconds, text", [
    (35.4, "35 s"), (59.6, "1 min 0 s"), (119.7, "2 min 0 s"), (754, "12 min 34 s"),
    (3599.7, "1 h 0 min"), (7199, "2 h 0 min"), (5430, "1 h 30 min")])
def test_durations_never_read_60(seconds, text):
    assert page.duration(seconds) == text


@pytest.mark.parametrize("value, text", [
    ("128", "128"), ("12345", "12,345"), ("0.30000000000000004", "0.3"), ("1e-06", "1e-06"),
    ("0.0012345678", "0.001235"), ("adam", "adam"), ("", "")])
def test_cells_are_formatted_for_reading(value, text):
    assert page.fmt(value) == text


def test_numbers_are_right_aligned_in_tables_of_figures_only():
    figures = page.html_table("t", ["trial", "seconds", "optimizer"], [["3", "1,235", "adam"]])
    assert "<td class='num'>3</td><td class='num'>1,235</td><td>adam</td>" in figures
    settings = page.html_table("Run", ["setting", "value"], [["seed", "0"]])
    assert "<td>0</td>" in settings
