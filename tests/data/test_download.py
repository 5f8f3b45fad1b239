"""Data directory resolution and the offline switch."""

import pytest

from tfopt.data import download
from tfopt.errors import InputError


def test_missing_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        download.resolve_data_dir(tmp_path / "nope")


def test_env_data_dir_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TFOPT_DATA_DIR", str(tmp_path))
    assert download.resolve_data_dir() == tmp_path


def test_offline_never_downloads(monkeypatch):
    monkeypatch.setenv("TFOPT_OFFLINE", "1")
    with pytest.raises(download.DataUnavailableError, match="not downloading"):
        download.download("x.npz", "https://example.invalid/x.npz")


def test_find_local_needs_every_file(tmp_path):
    (tmp_path / "mr").mkdir()
    (tmp_path / "mr" / "a").write_text("1")
    assert download.find_local(tmp_path, ["mr"], ["a"]) == tmp_path / "mr"
    assert download.find_local(tmp_path, ["mr"], ["a", "b"]) is None
    assert download.find_local(None, ["mr"], ["a"]) is None
