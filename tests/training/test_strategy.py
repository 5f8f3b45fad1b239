"""Strategy choice, and a real search under MirroredStrategy over two logical CPUs."""

import json
import os
import subprocess
import sys

import keras
import pytest

import tfopt

from tfopt.training import strategy as distribute
from tfopt.training.strategy import choose_strategy, set_mixed_precision, strategy_name
from tfopt.errors import InputError

MIRRORED_SEARCH = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import tfopt
result = tfopt.search("digits", tuner="random", max_trials=1, epochs=1, out=sys.argv[1],
                      strategy="mirrored", verbose=0)
print(json.dumps(result.results))
"""


def test_auto_on_a_cpu_machine_is_the_default_strategy():
    assert choose_strategy("auto") is None
    assert strategy_name(None) == "default"


def test_tpu_without_a_tpu_is_explained(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(InputError, match="no TPU was found"):
        choose_strategy("tpu")


def test_mixed_precision_policy_on_cpu_is_bfloat16():
    try:
        assert set_mixed_precision(True) == "mixed_bfloat16"
    finally:
        assert set_mixed_precision(False) == "float32"


@pytest.mark.parametrize("native, policy", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, native, policy):
    monkeypatch.setattr(distribute, "native_bfloat16", lambda: native)
    try:
        assert set_mixed_precision("auto") == policy
        assert keras.mixed_precision.global_policy().name == policy
    finally:
        set_mixed_precision(False)


@pytest.mark.parametrize("flags, native", [("fpu avx512f avx512_bf16 sse", True),
                                           ("fpu amx_tile amx_bf16", True),
                                           ("fpu avx512f avx2", False)])
def test_native_bfloat16_reads_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert distribute.native_bfloat16(str(cpuinfo)) is native
    assert distribute.native_bfloat16(str(tmp_path / "missing")) is False


class _PolicySeen(keras.callbacks.Callback):
    seen = []

    def on_train_begin(self, logs=None):
        _PolicySeen.seen.append(self.model.get_layer("block1_conv1").dtype_policy.name)


@pytest.mark.slow  # 27 s; `make test` under 5 min. Its policy plumbing: tests/tuning/test_hypermodels.py
def test_mixed_precision_reaches_every_trial_and_the_final_model_is_float32(tmp_path):
    # keras-tuner clears the Keras session (and with it the dtype policy) before each build
    _PolicySeen.seen = []
    result = tfopt.search("digits", tuner="random", max_trials=2, epochs=2, retrain=False,
                          mixed_precision=True, out=str(tmp_path / "r"), verbose=0,
                          space={"batch_size": 128},  # 11 steps an epoch: bfloat16 is emulated
                          callbacks=[_PolicySeen()])
    assert _PolicySeen.seen == ["mixed_bfloat16", "mixed_bfloat16"]  # trials, not the probe
    assert result.results["dtype_policy"] == "mixed_bfloat16"
    network = result.model.layers[-1]
    assert {layer.dtype_policy.name for layer in network.layers} == {"float32"}
    assert result.results["test_accuracy"] > 0.5


@pytest.mark.integration
def test_search_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", MIRRORED_SEARCH, str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["strategy"] == "MirroredStrategy (2 replicas)"
    assert results["trials_completed"] == 1
    assert 0.0 <= results["test_accuracy"] <= 1.0


def test_multi_worker_without_a_cluster_is_explained(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(InputError, match="reads the cluster from TF_CONFIG"):
        choose_strategy("multi_worker")


def start_cluster(out, trials=2):
    """Two members of a MultiWorkerMirroredStrategy cluster on 127.0.0.1, each with two
    logical CPU devices, running the same search (tests/training/multi_worker_child.py)."""
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    child = os.path.join(os.path.dirname(__file__), "multi_worker_child.py")
    return [subprocess.Popen(
        [sys.executable, child, str(out), str(trials)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(
            os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}})))
        for index in range(2)]


def finish_cluster(members):
    """Each member's last stdout line as JSON, after checking that both exited cleanly."""
    finished = [member.communicate(timeout=900) for member in members]
    for member, (stdout, stderr) in zip(members, finished):
        assert member.returncode == 0, stderr[-3000:]
    return [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in finished]


@pytest.mark.integration
def test_a_search_under_multi_worker_strategy_on_two_processes(tmp_path):
    out = tmp_path / "run"
    chief, replica = finish_cluster(start_cluster(out))
    assert chief["run_dir"] == str(out)  # the chief writes the run, the replica beside it
    assert replica["run_dir"] == str(tmp_path / "run.worker-1")
    assert chief["strategy"] == replica["strategy"] == \
        "MultiWorkerMirroredStrategy (2 replicas)"
    assert chief["local_cpus"] == replica["local_cpus"] == 2
    assert chief["trial_scores"] == replica["trial_scores"]  # trained in step
    assert len(chief["trial_scores"]) == 2 and max(chief["trial_scores"]) > 0.3
    # BatchNormalization's moving statistics are each member's own: close, not equal
    assert chief["test_accuracy"] > 0.3 and \
        abs(chief["test_accuracy"] - replica["test_accuracy"]) < 0.05
    assert (out / "results.json").is_file() and (out / "final_model.keras").is_file()


@pytest.mark.integration
@pytest.mark.slow  # 4-5 min; CI runs the multi-worker search above
def test_a_killed_cluster_member_stops_the_chief_and_the_restarted_cluster_resumes(tmp_path):
    import time

    out = tmp_path / "run"
    members = start_cluster(out, trials=4)
    attempts = out / "tuner" / "trial_1" / "attempts.json"
    while not attempts.exists() and members[0].poll() is None:
        time.sleep(0.2)
    time.sleep(2)  # into trial 1's build or training
    members[1].kill()
    _, stderr = members[0].communicate(timeout=600)
    members[1].communicate()
    assert members[0].returncode == 1
    assert "A member of the multi-worker cluster stopped during trial 1" in stderr
    trial = json.loads((out / "tuner" / "trial_1" / "trial.json").read_text())
    assert trial["status"] == "RUNNING"  # kept unfinished, not FAILED

    chief, replica = finish_cluster(start_cluster(out, trials=4))
    assert chief["trial_scores"] == replica["trial_scores"]
    for run in (out, tmp_path / "run.worker-1"):  # the ledger, on both members
        states = [json.loads((run / "tuner" / f"trial_{i}" / "trial.json").read_text())["status"]
                  for i in range(4)]
        assert states == ["COMPLETED"] * 4
    assert json.loads(attempts.read_text())["started"] == 2  # resumed, not started afresh


def test_the_keras_fixes_leave_other_strategies_on_keras_own_code():
    import numpy as np
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    from tfopt.training.multi_worker import fix_keras_trainer, lost_a_member

    fix_keras_trainer()
    patched = trainer.reduce_per_replica
    assert patched.__module__ == "tfopt.training.multi_worker"
    fix_keras_trainer()  # idempotent: the second call wraps nothing again
    assert trainer.reduce_per_replica is patched
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    values = {"loss": tf.constant(2.5)}
    assert float(trainer.reduce_per_replica(values, strategy, "auto")["loss"]) == 2.5
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(np.ones((8, 3), "float32"), np.zeros(8, "int32"), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert not lost_a_member(strategy, "UnavailableError: Socket closed")  # one machine only


def test_traced_training_graphs_are_released_between_trials():
    import gc
    import weakref

    import numpy as np
    from tensorflow.python.framework import func_graph, ops

    def train_one():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(np.ones((8, 3), "float32"), np.zeros(8, "int32"), epochs=1, verbose=0)
        return weakref.ref(model)

    def custom_gradients():
        return [name for name in ops._gradient_registry._registry
                if name.startswith("CustomGradient-")]

    distribute.release_traced_graphs()
    model = train_one()
    gc.collect()
    held = custom_gradients()
    assert model() is None and len(held) >= 1  # the model is gone, its traced graph is not
    graphs = sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects())
    assert distribute.release_traced_graphs() == len(held)
    assert custom_gradients() == []
    gc.collect()
    assert sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects()) < graphs


def test_training_state_built_before_fit_traces_the_train_step_once(monkeypatch):
    import numpy as np
    from keras.src.backend.tensorflow import trainer
    from tfopt.data.pipeline import batched, to_dataset

    traces = []
    train_step = trainer.TensorFlowTrainer.train_step
    monkeypatch.setattr(trainer.TensorFlowTrainer, "train_step",
                        lambda self, data: traces.append(1) or train_step(self, data))
    x = np.random.default_rng(0).integers(0, 256, (40, 4, 4, 1), "uint8")
    y = np.arange(40) % 3
    for build_first, expected in ((False, 2), (True, 1)):  # Keras alone traces it twice
        model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        train = batched(to_dataset(x, y, "image"), 16)
        if build_first:
            distribute.build_training_state(model, train)
            assert model.optimizer.built
        traces.clear()
        history = model.fit(train, epochs=2, verbose=0, shuffle=False)
        assert len(traces) == expected
        assert len(history.history["accuracy"]) == 2
        keras.backend.clear_session()
