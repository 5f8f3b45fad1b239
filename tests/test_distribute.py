"""Strategy choice, and a real search under MirroredStrategy over two logical CPUs."""

import json
import os
import subprocess
import sys

import keras
import pytest

import tfopt

from tfopt import distribute
from tfopt.distribute import choose_strategy, set_mixed_precision, strategy_name
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


def test_mixed_precision_reaches_every_trial_and_the_final_model_is_float32(tmp_path):
    # keras-tuner clears the Keras session (and with it the dtype policy) before each build
    _PolicySeen.seen = []
    result = tfopt.search("digits", tuner="random", max_trials=2, epochs=3, retrain=False,
                          mixed_precision=True, out=str(tmp_path / "r"), verbose=0,
                          callbacks=[_PolicySeen()])
    assert _PolicySeen.seen == ["mixed_bfloat16", "mixed_bfloat16"]  # trials, not the probe
    assert result.results["dtype_policy"] == "mixed_bfloat16"
    network = result.model.layers[-1]
    assert {layer.dtype_policy.name for layer in network.layers} == {"float32"}
    assert result.results["test_accuracy"] > 0.5


def test_search_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", MIRRORED_SEARCH, str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["strategy"] == "MirroredStrategy (2 replicas)"
    assert results["trials_completed"] == 1
    assert 0.0 <= results["test_accuracy"] <= 1.0

