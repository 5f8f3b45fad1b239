"""Distributed tuning: the chief's token, ownership and state checks, leases, a clean exit,
and a real chief with two workers over loopback (`--workers 2`)."""

import csv
import logging
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import keras_tuner as kt
import pytest

from tfopt import _compat

from tfopt.scale.chief_worker import role, serve
from tfopt.scale.roles import TOKEN_ENV, check_role, parse_address
from tfopt.errors import InputError, SearchError
from tfopt.log import logger
from tfopt.tuning.tuners import RandomSearchOracle

# The CLI searches below train digits in batches of 128 (11 steps an epoch) rather than the
# small-data default of 32: what is tested is the coordination, not the model.
FAST = ("--set", "batch_size=128")

protos = _compat.keras_tuner_private("protos")
TOKEN = "test-token"
service = protos.get_service()


class Said(logging.Handler):
    """The lines the `tfopt` logger says while it is attached."""

    def __init__(self):
        super().__init__()
        self.lines = []
        logger.addHandler(self)
        logger.setLevel(logging.INFO)

    def emit(self, record):
        self.lines.append(record.getMessage())


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def chief(tmp_path):
    """A chief serving a 2-trial random search over x in 0..10 (no model), 2 s leases."""
    oracle = RandomSearchOracle(kt.Objective("score", "max"), max_trials=2, seed=1)
    space = kt.HyperParameters()
    space.Int("x", 0, 10)
    oracle.update_space(space)
    oracle._set_project_dir(str(tmp_path), "tuner")
    port, said = free_port(), Said().lines
    server = threading.Thread(target=serve, args=(oracle, f"127.0.0.1:{port}", TOKEN),
                              kwargs={"lease": 2.0}, daemon=True)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    yield protos.get_service_grpc().OracleStub(channel), oracle, server, said, channel


def call(stub, method, request, tuner_id="tuner1", token=TOKEN):
    metadata = [("tfopt-tuner-id", tuner_id)] + ([("tfopt-token", token)] if token else [])
    return getattr(stub, method)(request, metadata=metadata, timeout=10)


def code_of(stub, method, request, **kwargs):
    with pytest.raises(grpc.RpcError) as error:
        call(stub, method, request, **kwargs)
    return error.value.code(), error.value.details()


def finish(stub, trial_id, score, tuner_id="tuner1"):
    """What a worker sends at a trial's end: its metrics, then the trial's end."""
    call(stub, "UpdateTrial", service.UpdateTrialRequest(trial_id=trial_id,
                                                         metrics={"score": score}), tuner_id)
    trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=trial_id, status="COMPLETED")
    call(stub, "EndTrial", service.EndTrialRequest(trial=trial.to_proto()), tuner_id)


def test_the_chief_rejects_bad_requests_and_keeps_serving(chief):
    stub, oracle, server, said, channel = chief
    create = service.CreateTrialRequest(tuner_id="tuner1")
    assert code_of(stub, "CreateTrial", create, token=None)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(stub, "CreateTrial", create, token="wrong")[0] == \
        grpc.StatusCode.UNAUTHENTICATED
    assert code_of(stub, "CreateTrial", create, tuner_id="tuner2")[0] == \
        grpc.StatusCode.PERMISSION_DENIED  # asks in another worker's name
    garbage = channel.unary_unary("/keras_tuner.Oracle/CreateTrial")
    with pytest.raises(grpc.RpcError):
        garbage(b"\xff\xff\xff", metadata=[("tfopt-token", TOKEN)], timeout=10)

    trial = call(stub, "CreateTrial", create).trial
    assert trial.trial_id == "0" and oracle.owners == {"0": "tuner1"}
    update = service.UpdateTrialRequest(trial_id="0", metrics={"score": 0.5})
    assert code_of(stub, "UpdateTrial", update, tuner_id="tuner2")[0] == \
        grpc.StatusCode.PERMISSION_DENIED  # not its trial
    assert code_of(stub, "UpdateTrial", service.UpdateTrialRequest(
        trial_id="9", metrics={"score": 0.5}))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(stub, "UpdateTrial", service.UpdateTrialRequest(
        trial_id="0", metrics={"other": 1.0}))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(stub, "GetTrial", service.GetTrialRequest(trial_id="../x"))[0] == \
        grpc.StatusCode.NOT_FOUND
    finish(stub, "0", 0.5)
    code, details = code_of(stub, "UpdateTrial", service.UpdateTrialRequest(
        trial_id="0", metrics={"score": 0.9}))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "not running" in details
    ended = kt.engine.trial.Trial(kt.HyperParameters(), trial_id="0", status="FAILED")
    code, _ = code_of(stub, "EndTrial", service.EndTrialRequest(trial=ended.to_proto()))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert oracle.trials["0"].score == 0.5 and oracle.trials["0"].status == "COMPLETED"

    # still serving: the second trial runs and ends; then the worker is told to stop
    assert call(stub, "CreateTrial", create).trial.trial_id == "1"
    finish(stub, "1", 0.7)
    assert call(stub, "CreateTrial", create).trial.status == \
        kt.engine.trial.TrialStatus.to_proto("STOPPED")
    server.join(timeout=20)
    assert not server.is_alive()  # the chief exits once every trial ended
    state = json.loads((pathlib.Path(oracle._project_dir) / "oracle.json").read_text())
    assert state["end_order"] == ["0", "1"] and state["ongoing_trials"] == {}


def test_a_silent_workers_trial_goes_to_another_worker(chief):
    stub, oracle, server, said, _ = chief
    first = call(stub, "CreateTrial", service.CreateTrialRequest(tuner_id="tuner1")).trial
    time.sleep(3.5)  # tuner1 sends no heartbeat for longer than the 2 s lease
    assert any("tuner1 silent" in line and f"trial {first.trial_id}" in line for line in said)
    again = call(stub, "CreateTrial", service.CreateTrialRequest(tuner_id="tuner2"),
                 tuner_id="tuner2").trial
    assert again.trial_id == first.trial_id and oracle.owners[first.trial_id] == "tuner2"
    code, _ = code_of(stub, "UpdateTrial", service.UpdateTrialRequest(  # tuner1 wakes up
        trial_id=first.trial_id, metrics={"score": 0.9}))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    finish(stub, first.trial_id, 0.4, tuner_id="tuner2")
    second = call(stub, "CreateTrial", service.CreateTrialRequest(tuner_id="tuner2"),
                  tuner_id="tuner2").trial
    finish(stub, second.trial_id, 0.6, tuner_id="tuner2")
    call(stub, "CreateTrial", service.CreateTrialRequest(tuner_id="tuner2"), tuner_id="tuner2")
    server.join(timeout=20)
    assert not server.is_alive()
    assert oracle.trials[first.trial_id].score == 0.4 and sorted(oracle.end_order) == ["0", "1"]


def test_failures_in_a_row_stop_a_distributed_search_with_its_state_saved(tmp_path):
    oracle = RandomSearchOracle(kt.Objective("score", "max"), max_trials=6, seed=1,
                                max_consecutive_failed_trials=2)
    space = kt.HyperParameters()
    space.Int("x", 0, 10)
    oracle.update_space(space)
    oracle._set_project_dir(str(tmp_path), "tuner")
    port, raised = free_port(), []

    def chief():
        try:
            serve(oracle, f"127.0.0.1:{port}", TOKEN, lease=30.0)
        except SearchError as error:
            raised.append(error)

    server = threading.Thread(target=chief, daemon=True)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    stub = protos.get_service_grpc().OracleStub(channel)

    def create(tuner_id):
        return call(stub, "CreateTrial", service.CreateTrialRequest(tuner_id=tuner_id),
                    tuner_id).trial

    def fail(trial_id, tuner_id):  # as a worker does: error.txt, then the trial's end
        trial_dir = tmp_path / "tuner" / f"trial_{trial_id}"
        trial_dir.mkdir(parents=True, exist_ok=True)
        (trial_dir / "error.txt").write_text(
            f"Traceback (most recent call last):\n  File x\nValueError: boom {trial_id}\n")
        trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=trial_id, status="FAILED")
        call(stub, "EndTrial", service.EndTrialRequest(trial=trial.to_proto()), tuner_id)

    first, second = create("tuner1"), create("tuner2")
    fail(first.trial_id, "tuner1")
    fail(create("tuner1").trial_id, "tuner1")  # the second failure in a row
    stopped = kt.engine.trial.TrialStatus.to_proto("STOPPED")
    assert create("tuner1").status == stopped  # no trial more is given...
    assert server.is_alive()  # ...and the chief waits for tuner2's running trial
    finish(stub, second.trial_id, 0.8, tuner_id="tuner2")
    assert create("tuner2").status == stopped
    server.join(timeout=20)
    assert not server.is_alive() and len(raised) == 1
    assert "2 trials failed in a row" in str(raised[0]) and "ValueError: boom 2" in str(raised[0])
    state = json.loads((tmp_path / "tuner" / "oracle.json").read_text())
    assert state["ongoing_trials"] == {} and len(state["end_order"]) == 3
    assert {t: (r["status"], r["message"]) for t, r in state["trial_records"].items()} == \
        {"0": ("FAILED", "ValueError: boom 0"), "1": ("COMPLETED", None),
         "2": ("FAILED", "ValueError: boom 2")}


def test_roles_are_checked_before_anything_runs():
    with pytest.raises(InputError, match="either the chief .* or a worker"):
        check_role(chief=True, worker="1")
    with pytest.raises(InputError, match="--worker needs --chief-address"):
        check_role(worker="1")
    with pytest.raises(InputError, match="Unsafe worker id"):
        check_role(worker="../1", address="127.0.0.1:1")
    with pytest.raises(InputError, match="--budget is not supported"):
        check_role(chief=True, budget=60)
    with pytest.raises(InputError, match="HOST:PORT"):
        parse_address("localhost")
    assert parse_address("[::1]:8470") == ("::1", 8470)


def test_role_sets_keras_tuners_variables_only_while_it_lasts(monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    with role(worker="3", address="10.0.0.5:9000") as tuner_id:
        assert tuner_id == "tuner3"
        assert (os.environ["KERASTUNER_ORACLE_IP"], os.environ["KERASTUNER_ORACLE_PORT"]) == \
            ("10.0.0.5", "9000")
    assert "KERASTUNER_TUNER_ID" not in os.environ
    with role(chief=True) as tuner_id:  # binds loopback by default
        assert tuner_id == "chief" and os.environ["KERASTUNER_ORACLE_IP"] == "127.0.0.1"


@pytest.mark.integration
def test_a_chief_and_two_workers_finish_a_search_over_loopback(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop(TOKEN_ENV, None)
    done = subprocess.run([sys.executable, "-m", "tfopt", "search", "--task", "digits", *FAST,
                           "--tuner", "random", "--max-trials", "4", "--epochs", "2",
                           "--no-retrain", "--out", str(out), "--workers", "2"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("[chief] [tfopt] chief: serving the search on 127.0.0.1:")
               for line in lines)
    begun = {}
    for line in lines:
        role, _, said = line.partition("] ")
        if role.startswith("[worker "):
            for trial_id in trials_begun([said]):
                begun.setdefault(trial_id, []).append(role.removeprefix("[worker "))
    assert sorted(begun) == ["0", "1", "2", "3"]
    assert all(len(workers) == 1 for workers in begun.values())  # no trial ran twice
    done = [line for line in lines if re.search(r"\[tfopt\] trial \d+ done: val_accuracy=", line)]
    assert len(done) == 4 and not any("failed" in line for line in done)  # the chief's scores
    assert set().union(*begun.values()) == {"1", "2"}  # both workers trained
    with open(out / "trials.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["status"] for row in rows] == ["COMPLETED"] * 4
    assert all(1 <= int(row["epochs_run"]) <= 2 for row in rows)  # each worker's stats, merged
    assert json.loads((out / "results.json").read_text())["test_accuracy"] > 0.5
    state = json.loads((out / "tuner" / "oracle.json").read_text())
    assert sorted(state["end_order"]) == ["0", "1", "2", "3"] and state["ongoing_trials"] == {}
    assert (out / "final_model.keras").is_file()


TRIAL_BEGUN = re.compile(r"\[tfopt\] trial (\d+) \(\d+")


def start(out, *role, lease="8", token="slow-test-token", port):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFOPT_LEASE_SECONDS=lease,
               **{TOKEN_ENV: token})
    return subprocess.Popen([sys.executable, "-m", "tfopt", "search", "--task", "digits", *FAST,
                             "--tuner", "random", "--max-trials", "4", "--epochs", "3",
                             "--no-retrain", "--out", str(out), "--chief-address",
                             f"127.0.0.1:{port}", *role],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def wait_for_line(process, text, seen, timeout=300):
    """Reads `process`'s output into `seen` until a line holds `text`."""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return line
        assert time.monotonic() < deadline, "".join(seen[-30:])
    raise AssertionError("".join(seen[-30:]))


def drain(process, seen, timeout=600):
    out, _ = process.communicate(timeout=timeout)
    seen.extend(out.splitlines(keepends=True))
    return process.returncode


def trials_begun(lines):
    """The ids of the trials whose progress line ("[tfopt] trial 3 (4 of 4): ...") is here."""
    return [m.group(1) for m in map(TRIAL_BEGUN.match, lines) if m]


@pytest.mark.integration
@pytest.mark.parametrize("fault", ["killed", pytest.param("frozen", marks=pytest.mark.slow)])
def test_a_dead_or_frozen_workers_trial_is_reassigned(tmp_path, fault):
    out, port = tmp_path / "run", free_port()
    chief = start(out, "--chief", port=port)
    one = start(out, "--worker", "1", port=port)
    seen_one, seen_two, seen_chief = [], [], []
    wait_for_line(one, "[tfopt] trial ", seen_one)
    # at once, while it holds its first trial: a digits trial can end within a second or two,
    # and a worker left to run on may finish the whole search first
    one.send_signal(signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
    two = start(out, "--worker", "2", port=port)
    if fault == "frozen":
        wait_for_line(chief, "tuner1 silent", seen_chief)
        one.send_signal(signal.SIGCONT)  # wakes up holding a trial that is no longer its own
    assert drain(chief, seen_chief) == 0, "".join(seen_chief[-30:])
    assert drain(two, seen_two) == 0, "".join(seen_two[-30:])
    code_one = drain(one, seen_one)
    assert any("tuner1 silent for over 8 s" in line for line in seen_chief)
    if fault == "frozen":
        assert code_one == 0 and any("the chief refused trial" in line for line in seen_one)
    state = json.loads((out / "tuner" / "oracle.json").read_text())
    assert sorted(state["end_order"]) == ["0", "1", "2", "3"] and state["ongoing_trials"] == {}
    assert (out / "results.json").is_file()


@pytest.mark.integration
@pytest.mark.slow  # 2-3 min; CI covers the chief and workers with the two tests above
def test_a_restarted_chief_runs_no_trial_twice(tmp_path):
    out, port = tmp_path / "run", free_port()
    chief = start(out, "--chief", port=port, lease="60")
    worker = start(out, "--worker", "1", port=port, lease="60")
    seen, seen_chief = [], []
    wait_for_line(worker, " (2 of 4): ", seen)  # the second trial is running
    chief.kill()
    chief.wait()
    restarted = start(out, "--chief", port=port, lease="60")
    assert drain(restarted, seen_chief) == 0, "".join(seen_chief[-30:])
    assert drain(worker, seen) == 0, "".join(seen[-30:])
    begun = trials_begun(seen)
    assert sorted(begun) == ["0", "1", "2", "3"], begun  # each trial once
    finished = subprocess.run(  # a finished search, its chief restarted, runs nothing
        [sys.executable, "-m", "tfopt", "search", "--task", "digits", *FAST, "--tuner", "random",
         "--max-trials", "4", "--epochs", "3", "--no-retrain", "--out", str(out), "--workers",
         "1"], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-3000:]
    assert not trials_begun([line.split("] ", 1)[-1] for line in finished.stdout.splitlines()])
