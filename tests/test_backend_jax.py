"""An image search with KERAS_BACKEND=jax where TensorFlow cannot be imported, as on a
GPU machine with JAX only; text data and tf.distribute then fail with clear errors."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")
pytestmark = pytest.mark.integration  # a process with TensorFlow blocked

BLOCK_TENSORFLOW = """
import importlib.abc, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tensorflow", "tf_keras"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, NoTensorFlow())
"""

SEARCH = BLOCK_TENSORFLOW + """
import json
import jax
import tfopt
from tfopt.training.strategy import choose_strategy, set_mixed_precision
from tfopt.errors import InputError

run, reviews = sys.argv[1:]
result = tfopt.search("digits", tuner="random", max_trials=2, epochs=3, space={"augment": 0},
                      out=run, verbose=0)
report = {"trials": sorted(result.tuner.oracle.trials),
          "jax_cache": jax.config.jax_compilation_cache_dir,
          "auto_strategy": choose_strategy("auto"), "policy": set_mixed_precision(True)}
set_mixed_precision(False)
for key, call in (("text_error", lambda: tfopt.search(data=reviews, out=run + "-text", verbose=0)),
                  ("strategy_error", lambda: choose_strategy("mirrored"))):
    try:
        call()
    except InputError as error:
        report[key] = str(error)
report["tensorflow_modules"] = sorted(m for m in sys.modules
                                      if m.partition(".")[0] in ("tensorflow", "tf_keras"))
print(json.dumps(report))
"""

CACHE = BLOCK_TENSORFLOW + """
import jax, jax.numpy as jnp
from tfopt.backend import configure_backend

assert configure_backend() == "jax"
jax.jit(lambda x: jnp.sin(x) * 2)(jnp.arange(3.0)).block_until_ready()
print(jax.config.jax_compilation_cache_dir)
"""


def _run(script, *args, env=None):
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", **(env or {}))
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jax")
    reviews = folder / "reviews.csv"
    reviews.write_text("text,label\n" + "".join(
        f"{'great fun' if i % 2 else 'dull and slow'} film {i},{'pos' if i % 2 else 'neg'}\n"
        for i in range(60)))
    report = json.loads(_run(SEARCH, folder / "run", reviews,
                             env={"TFOPT_JAX_CACHE": str(folder / "cache")}))
    return folder, report


def test_search_trains_a_good_model_without_importing_tensorflow(jax_run):
    folder, report = jax_run
    results = json.loads((folder / "run" / "results.json").read_text())
    assert results["trials_completed"] == 2
    assert isinstance(results["test_accuracy"], float) and results["test_accuracy"] > 0.5
    assert [e["format"] for e in results["exports"]] == ["keras"]  # no SavedModel without TF
    assert results["exports"][0]["test_accuracy"] == pytest.approx(results["test_accuracy"])
    assert (folder / "run" / "final_model.keras").is_file()
    assert report["tensorflow_modules"] == []
    assert report["auto_strategy"] is None and report["policy"] == "mixed_bfloat16"


def test_every_trial_logs_scalars_and_hparams_for_tensorboard(jax_run):
    from tfopt.training.tensorboard_logs import read_scalars

    folder, report = jax_run
    logs = folder / "run" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["final", "summary"] + [
        f"trial_{t}" for t in report["trials"]]
    for trial_id in report["trials"]:
        run = logs / f"trial_{trial_id}"
        accuracy = read_scalars(run / "validation", "epoch_accuracy")
        assert [step for step, _ in accuracy][:1] == [0]
        assert all(0.0 <= value <= 1.0 for _, value in accuracy)
        assert read_scalars(run / "train", "epoch_loss")
        assert any(run.glob("events.out.tfevents.*"))  # HParams, next to train/ and validation/
    assert read_scalars(logs / "final" / "train", "epoch_loss")
    assert any((logs / "final").glob("events.out.tfevents.*"))  # the report's images


def test_compiled_steps_go_to_the_persistent_jax_cache(jax_run):
    folder, report = jax_run
    assert report["jax_cache"] == str(folder / "cache")
    assert any((folder / "cache").iterdir())


def test_text_data_and_tf_distribute_say_how_to_get_tensorflow(jax_run):
    _, report = jax_run
    assert "TextVectorization" in report["text_error"]
    assert "pip install tensorflow" in report["text_error"]
    assert "KERAS_BACKEND=tensorflow" in report["text_error"]
    assert "mirrored" in report["strategy_error"]
    assert "KERAS_BACKEND=tensorflow" in report["strategy_error"]


@pytest.mark.parametrize("setting, expected", [("{cache}", "{cache}"), ("off", "None")])
def test_configure_backend_sets_up_the_compilation_cache(tmp_path, setting, expected):
    cache = str(tmp_path / "cache")
    printed = _run(CACHE, env={"TFOPT_JAX_CACHE": setting.format(cache=cache)})
    assert printed == expected.format(cache=cache)
    assert any((tmp_path / "cache").glob("*")) == (setting != "off")
