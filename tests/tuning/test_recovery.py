"""Recovery: a search killed at any point resumes with its ledger whole; a trial that kills
its process is FAILED after MAX_ATTEMPTS; NaN fails a trial with its reason; consecutive
failures stop the search with every state saved; damaged or deleted state is recovered."""

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import keras_tuner as kt
import pytest

from tfopt.training.callbacks import trial_callbacks
from tfopt.data.pipeline import to_dataset
from tfopt.errors import InputError, SearchError
from tfopt.tuning.hypermodels import VGGHyperModel
from tfopt.results.final import finalize
from tfopt.tuning.recovery import MAX_ATTEMPTS
from tfopt.tuning.tuners import RandomSearchOracle, make_tuner

CHILD = pathlib.Path(__file__).with_name("kill_child.py")
CHILD_TRIALS = 3  # kill_child.MAX_TRIALS


def run_child(out, log, *point):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(CHILD), str(out), str(log), *point],
                          capture_output=True, text=True, env=env, timeout=900)


def epochs_begun(log):
    """[(pid, epoch)] in the order the child processes began them."""
    if not log.exists():
        return []
    return [(r["pid"], r["epoch"]) for r in map(json.loads, log.read_text().splitlines())]


def check_ledger(project, finished, completed=True):
    """Each trial id in a final state exactly once, nothing RUNNING or queued, `finished`
    trials ended, and the best trial finite and COMPLETED. Returns {trial id: record}."""
    oracle = json.loads((project / "oracle.json").read_text())
    records = {p.parent.name[len("trial_"):]: json.loads(p.read_text())
               for p in project.glob("trial_*/trial.json") if "." not in p.parent.name}
    assert len(oracle["end_order"]) == len(set(oracle["end_order"]))
    assert sorted(records) == sorted(oracle["end_order"]) == sorted(oracle["start_order"])
    assert oracle["ongoing_trials"] == {} and oracle["retry_queue"] == []
    assert all(r["status"] in ("COMPLETED", "FAILED") for r in records.values()), records
    assert len(records) == finished
    done = [r for r in records.values() if r["status"] == "COMPLETED"]
    assert bool(done) == completed and all(math.isfinite(r["score"]) for r in done)
    return records


@pytest.mark.integration
# CI (`make test-integration`) kills at two points, `make test-slow` at all four (and the sweep)
@pytest.mark.parametrize("point", [pytest.param(("batch", "3"), marks=pytest.mark.slow),
                                   ("batch", "45"),
                                   pytest.param(("write", "4"), marks=pytest.mark.slow),
                                   ("between", "8")],
                         ids=["during-trial-0", "mid-epoch", "while-saving", "between-writes"])
def test_a_killed_search_resumes_with_nothing_lost(tmp_path, point):
    out, log = tmp_path / "run", tmp_path / "epochs.jsonl"
    killed = run_child(out, log, *point)
    assert killed.returncode == -9, killed.stderr[-2000:]
    before = epochs_begun(log)
    resumed = run_child(out, log)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    records = check_ledger(out / "tuner", CHILD_TRIALS)
    assert all(r["status"] == "COMPLETED" for r in records.values())
    assert (out / "results.json").is_file()
    every = epochs_begun(log)
    after = every[len(before):]
    if point[0] == "batch":  # killed inside an epoch: that epoch runs again, not an earlier one
        assert after[0][1] == before[-1][1]
    again = run_child(out, log)  # a finished search, run again, trains nothing
    assert again.returncode == 0, again.stderr[-3000:]
    assert epochs_begun(log) == every


@pytest.mark.integration
def test_a_trial_that_kills_its_process_every_time_fails_after_max_attempts(tmp_path):
    out, log = tmp_path / "run", tmp_path / "epochs.jsonl"
    for attempt in range(MAX_ATTEMPTS):
        killed = run_child(out, log, "trial", "1")
        assert killed.returncode == -9, (attempt, killed.stderr[-2000:])
    last = run_child(out, log, "trial", "1")
    assert last.returncode == 0, last.stderr[-3000:]
    records = check_ledger(out / "tuner", CHILD_TRIALS)
    assert records["1"]["status"] == "FAILED"
    assert f"started {MAX_ATTEMPTS} times" in records["1"]["message"]
    assert [r["status"] for t, r in sorted(records.items()) if t != "1"] == ["COMPLETED"] * 2


def _search(directory, splits, *, max_trials, hyperparameters=None, epochs=1):
    tuner = make_tuner("random", VGGHyperModel(splits.input_shape, splits.num_classes),
                       objective="val_accuracy", directory=directory, max_trials=max_trials,
                       epochs=epochs, seed=1, hyperparameters=hyperparameters)
    tuner.search(to_dataset(splits.x_train, splits.y_train, "image"),
                 validation_data=to_dataset(splits.x_val, splits.y_val, "image"),
                 epochs=epochs, callbacks=trial_callbacks(directory / "logs"), verbose=0)
    return tuner


def test_nan_fails_trials_with_the_reason_and_three_in_a_row_stop_with_state_saved(
        tiny_images, tmp_path):
    diverging = kt.HyperParameters()
    diverging.Fixed("learning_rate", 1e30)  # the weights overflow in the first steps
    diverging.Fixed("optimizer", "adam")
    diverging.Fixed("batch_size", 64)
    with pytest.raises(SearchError, match="3 trials failed in a row.*loss became nan in epoch 1"):
        _search(tmp_path, tiny_images, max_trials=5, hyperparameters=diverging)
    project = tmp_path / "tuner"
    oracle = json.loads((project / "oracle.json").read_text())
    assert oracle["end_order"] == ["0", "1", "2"] and oracle["ongoing_trials"] == {}
    for tid in oracle["end_order"]:
        record = json.loads((project / f"trial_{tid}" / "trial.json").read_text())
        assert record["status"] == "FAILED" and record["message"] == "loss became nan in epoch 1"
        assert "FailedTrialError" in (project / f"trial_{tid}" / "error.txt").read_text()
    # resumed (the space, learning rate included, is the search's own): the failed trials are
    # not run again, and the failures in a row count from the resume (2 more, then the end)
    resumed = _search(tmp_path, tiny_images, max_trials=5)
    assert [resumed.oracle.trials[t].status for t in "01234"] == ["FAILED"] * 5
    for tid in "01234":
        assert json.loads((project / f"trial_{tid}" / "attempts.json").read_text()) == \
            {"started": 1}
    check_ledger(project, 5, completed=False)
    with pytest.raises(SearchError, match=r"No completed trial: .* \(trial 0: loss became nan "
                                          r"in epoch 1; trial 1: .*; and 2 more\)"):
        finalize(resumed, None, None)


def test_the_best_trial_is_always_finite():
    oracle = RandomSearchOracle(kt.Objective("val_accuracy", "max"), max_trials=4)
    for tid, score in zip("0123", [0.5, math.nan, math.inf, 0.7]):
        trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=tid, status="COMPLETED")
        trial.score = score
        oracle.trials[tid] = trial
    assert [t.trial_id for t in oracle.get_best_trials(4)] == ["3", "0"]


def test_ctrl_c_during_a_trial_is_not_counted_as_a_crash_attempt(tiny_images, tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tuner = make_tuner("random", VGGHyperModel(tiny_images.input_shape,
                                                   tiny_images.num_classes),
                           objective="val_accuracy", directory=tmp_path, max_trials=1,
                           epochs=1, seed=1)
        tuner.search(to_dataset(tiny_images.x_train, tiny_images.y_train, "image"),
                     validation_data=to_dataset(tiny_images.x_val, tiny_images.y_val, "image"),
                     epochs=1, callbacks=[Interrupt()], verbose=0)
    attempts = tmp_path / "tuner" / "trial_0" / "attempts.json"
    assert json.loads(attempts.read_text()) == {"started": 0}
    resumed = _search(tmp_path, tiny_images, max_trials=1)  # its first attempt, no "attempt 2"
    assert resumed.oracle.trials["0"].status == "COMPLETED"
    assert json.loads(attempts.read_text()) == {"started": 1}


def test_damaged_and_deleted_state_files_are_recovered(tiny_images, tmp_path):
    _search(tmp_path, tiny_images, max_trials=2)
    project = tmp_path / "tuner"
    shutil.rmtree(project / "trial_0")  # a deleted trial folder
    (project / "trial_1" / "trial.json").write_text('{"trial_id": "1", "hyperp')  # truncated
    (project / "trial_1" / "trial.json.bak").unlink()
    (project / "oracle.json").write_text("")  # emptied by a kill during keras-tuner's write
    resumed = _search(tmp_path, tiny_images, max_trials=3)
    assert [resumed.oracle.trials[t].status for t in "012"] == ["COMPLETED"] * 3
    records = check_ledger(project, 3)
    assert records["0"]["score"] is not None  # restored from oracle.json's copy


def test_a_trial_created_just_before_a_kill_is_set_aside_not_left_running(tiny_images, tmp_path):
    _search(tmp_path, tiny_images, max_trials=1)
    project = tmp_path / "tuner"
    orphan = json.loads((project / "trial_0" / "trial.json").read_text())
    orphan.update(trial_id="1", status="RUNNING", score=None)
    (project / "trial_1").mkdir()
    (project / "trial_1" / "trial.json").write_text(json.dumps(orphan))
    resumed = _search(tmp_path, tiny_images, max_trials=2)
    assert (project / "trial_1.orphan" / "trial.json").is_file()
    assert [resumed.oracle.trials[t].status for t in "01"] == ["COMPLETED"] * 2
    check_ledger(project, 2)


def test_a_trial_ended_on_disk_but_ongoing_in_oracle_json_is_not_run_twice(tiny_images,
                                                                            tmp_path):
    _search(tmp_path, tiny_images, max_trials=1)
    project = tmp_path / "tuner"
    oracle = json.loads((project / "oracle.json").read_text())
    oracle.update(ongoing_trials={"tuner0": "0"}, end_order=[])  # killed between the saves
    (project / "oracle.json").write_text(json.dumps(oracle))
    resumed = _search(tmp_path, tiny_images, max_trials=1)
    assert json.loads((project / "trial_0" / "attempts.json").read_text()) == {"started": 1}
    assert resumed.oracle.end_order == ["0"]
    check_ledger(project, 1)


def test_an_unsafe_trial_id_in_a_state_file_is_refused(tiny_images, tmp_path):
    _search(tmp_path, tiny_images, max_trials=1)
    project = tmp_path / "tuner"
    oracle = json.loads((project / "oracle.json").read_text())
    oracle["start_order"] = ["../../outside"]
    (project / "oracle.json").write_text(json.dumps(oracle))
    with pytest.raises(InputError, match=r"Unsafe trial id '\.\./\.\./outside'"):
        _search(tmp_path, tiny_images, max_trials=2)


SWEEP = ([("write", str(n)) for n in range(1, 41, 3)] +
         [("between", str(n)) for n in range(2, 41, 3)] +
         [("batch", str(n)) for n in (1, 5, 12, 20, 31, 44, 60, 75)])


@pytest.mark.slow  # CI kills at four points: test_a_killed_search_resumes_with_nothing_lost
@pytest.mark.parametrize("point", SWEEP, ids=["-".join(p) for p in SWEEP])
def test_kill_sweep_loses_nothing(tmp_path, point):
    """kill -9 at many points (inside and between state writes, inside epochs of every
    trial), then the same command: the ledger is whole each time."""
    out, log = tmp_path / "run", tmp_path / "epochs.jsonl"
    killed = run_child(out, log, *point)
    assert killed.returncode in (0, -9), killed.stderr[-2000:]  # 0: the point was never reached
    resumed = run_child(out, log)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    records = check_ledger(out / "tuner", CHILD_TRIALS)
    assert all(r["status"] == "COMPLETED" for r in records.values())
    assert (out / "results.json").is_file()


@pytest.mark.integration
def test_a_trial_out_of_memory_fails_with_the_reason_and_the_search_goes_on(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, str(CHILD.with_name("oom_child.py")), str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    records = check_ledger(out / "tuner", 3)
    statuses = {r["hyperparameters"]["values"]["units"]: r["status"] for r in records.values()}
    assert statuses == {16: "COMPLETED", 60000: "FAILED", 32: "COMPLETED"}
    failed = next(r for r in records.values() if r["status"] == "FAILED")
    assert any(word in failed["message"] for word in ("OOM", "ResourceExhausted", "MemoryError",
                                                      "memory")), failed["message"]
    memory = json.loads(done.stdout.strip().splitlines()[-1])
    first, last = memory["resident_mb_after_trials"]
    assert last < first + 300  # nothing of the failed trial's model stays behind
