"""Durable state files: atomic writes with a backup, recovery, safe names, removal inside a root."""

import json

import pytest

from tfopt.durable import check_name, read_json, remove_inside, write_json
from tfopt.errors import InputError


def test_a_second_write_keeps_the_first_as_backup(tmp_path):
    path = tmp_path / "oracle.json"
    write_json(path, {"n": 1})
    write_json(path, {"n": 2})
    assert json.loads(path.read_text()) == {"n": 2}
    assert json.loads((tmp_path / "oracle.json.bak").read_text()) == {"n": 1}
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("damage", ["", '{"n": 2, "trials": [', "\x00\x00", "[1, 2]"])
def test_a_damaged_file_is_restored_from_its_backup(tmp_path, damage, caplog):
    path = tmp_path / "trial.json"
    write_json(path, {"n": 1})
    write_json(path, {"n": 2})
    path.write_text(damage)  # what a kill during keras-tuner's truncating write leaves
    assert read_json(path) == {"n": 1}
    assert "restored it from trial.json.bak" in caplog.text
    assert json.loads(path.read_text()) == {"n": 1}


def test_a_missing_file_is_restored_from_its_backup(tmp_path):
    path = tmp_path / "oracle.json"
    write_json(path, {"n": 1})
    write_json(path, {"n": 2})
    path.unlink()
    assert read_json(path) == {"n": 1}


def test_a_damaged_file_without_backup_is_a_clear_error_naming_it(tmp_path):
    path = tmp_path / "oracle.json"
    path.write_text('{"start_order": ["0"')
    with pytest.raises(InputError, match=r"oracle.json is damaged .* backup oracle.json.bak is "
                                         r"missing\. Restore the file, or search again"):
        read_json(path)
    assert path.read_text() == '{"start_order": ["0"'  # left as it was


def test_a_leftover_temporary_file_does_not_replace_the_state(tmp_path):
    path = tmp_path / "oracle.json"
    write_json(path, {"n": 1})
    (tmp_path / "oracle.json.123.tmp").write_text('{"n": 2')  # killed before the rename
    assert read_json(path) == {"n": 1}
    write_json(path, {"n": 3})
    assert read_json(path) == {"n": 3}


@pytest.mark.parametrize("name", ["..", ".", "a/b", "/etc", "../x", "", "a b", "trial\n1",
                                  "x" * 65, None, 3])
def test_unsafe_names_are_rejected(name):
    with pytest.raises(InputError, match="Unsafe trial id"):
        check_name("trial id", name)


@pytest.mark.parametrize("name", ["0", "0003", "tuner", "run-2_b"])
def test_safe_names_pass(name):
    assert check_name("trial id", name) == name


def test_remove_inside_never_follows_a_link_out_of_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "canary.txt"
    canary.write_text("keep me")
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "final").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match="outside the run folder"):
        remove_inside(run, run / "logs" / "final")
    with pytest.raises(InputError, match="outside the run folder"):
        remove_inside(run, run / ".." / "outside")
    with pytest.raises(InputError, match="outside the run folder"):
        remove_inside(run, run)
    assert canary.read_text() == "keep me"
    (run / "logs" / "old").mkdir()
    (run / "logs" / "old" / "f").write_text("x")
    remove_inside(run, run / "logs" / "old")
    assert not (run / "logs" / "old").exists() and canary.exists()
