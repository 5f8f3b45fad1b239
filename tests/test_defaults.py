"""The default budget's floors on real data (slow: minutes; `make test-slow`)."""

import pytest

import tfopt


@pytest.mark.slow
def test_default_digits_search_reaches_97_percent(tmp_path):
    result = tfopt.search("digits", out=str(tmp_path / "digits"), verbose=0)
    assert result.results["trials_run"] <= 40
    assert result.results["test_accuracy"] >= 0.97


@pytest.mark.slow
@pytest.mark.data
def test_default_mr_search_reaches_75_percent(shared_data_dir, tmp_path):
    result = tfopt.search("mr", out=str(tmp_path / "mr"), data_dir=str(shared_data_dir),
                          verbose=0)
    assert result.results["test_accuracy"] >= 0.75
