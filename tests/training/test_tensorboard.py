"""A real TensorBoard server on a free loopback port serves every trial's scalars and HParams."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.integration  # a real TensorBoard server process


@pytest.fixture(scope="module")
def served_run(finished_run):
    result, out = finished_run, finished_run.run_dir
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(out / "logs"),
         "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    expected = {f"trial_{t}/{part}" for t in result.tuner.oracle.trials
                for part in ("train", "validation")} | {"final", "final/train"}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if expected <= set(_get(base, "/data/runs")):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("TensorBoard did not serve the trial runs within 90 s")
            time.sleep(1)
        yield result, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(base, path, body=None):
    request = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_one_run_per_trial_with_loss_and_accuracy(served_run):
    result, base = served_run
    tags = _get(base, "/data/plugin/scalars/tags")
    for trial_id in result.tuner.oracle.trials:
        for part in ("train", "validation"):
            assert {"epoch_loss", "epoch_accuracy"} <= set(tags[f"trial_{trial_id}/{part}"])


def test_hparams_dashboard_lists_every_trial(served_run):
    result, base = served_run
    groups = _get(base, "/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS",
                                                  "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [], "startIndex": 0, "sliceSize": 100})
    assert groups["totalSize"] == len(result.tuner.oracle.trials)
    by_name = {g["name"]: g for g in groups["sessionGroups"]}
    for trial_id, trial in result.tuner.oracle.trials.items():
        hparams = by_name[trial_id]["hparams"]
        assert hparams["optimizer"] == trial.hyperparameters.values["optimizer"]
        assert hparams["learning_rate"] == pytest.approx(
            trial.hyperparameters.values["learning_rate"])
        metrics = {(m["name"]["group"], m["name"]["tag"]) for m in by_name[trial_id]["metricValues"]}
        assert ("validation", "epoch_accuracy") in metrics


def test_final_run_has_the_confusion_matrix_and_learning_curves(served_run):
    result, base = served_run
    tags = _get(base, "/data/plugin/images/tags")
    assert {"confusion_matrix", "learning_curves"} <= set(tags["final"])
    images = _get(base, "/data/plugin/images/images?run=final&tag=confusion_matrix")
    assert len(images) == 1
    url = f"{base}/data/plugin/images/individualImage?{images[0]['query']}"
    png = urllib.request.urlopen(url, timeout=10).read()
    assert png.startswith(b"\x89PNG")
    scalars = _get(base, "/data/plugin/scalars/tags")
    assert {"epoch_loss", "epoch_accuracy"} <= set(scalars["final/train"])
