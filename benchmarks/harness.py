"""What both sides of a case share: timing callbacks, per-trial stats for a keras-tuner
peer, the fresh process each side runs in, and the machine and versions of a result.

The callbacks only read the clock, except that `SearchClock` stops a peer at its
deadline; nothing here changes how a side builds or trains its models.
"""

import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import keras

from tfopt.training.callbacks import StepClock, peak_rss_mb  # what tfopt's trial_stats.json has

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Stopwatch:
    """A search's clock, shared by every copy of its `SearchClock`.

    Started at construction. `reached`: seconds until a trial's epoch first had
    `monitor >= target`. With `budget` (seconds), `stopped`: when the deadline
    stopped training. `oracle` (a peer's, set once its tuner exists) gets its
    `max_trials` lowered to the trials it has at the deadline, so none starts after.
    """

    def __init__(self, *, budget=None, monitor="val_accuracy", target=None):
        self.started = time.monotonic()
        self.budget = budget
        self.monitor = monitor
        self.target = target
        self.reached = None
        self.stopped = None
        self.oracle = None

    def elapsed(self):
        return time.monotonic() - self.started

    def check_deadline(self):
        """True once the deadline has passed (then also ends the oracle's search)."""
        if self.budget is None or self.elapsed() < self.budget:
            return False
        if self.stopped is None:
            self.stopped = round(self.elapsed(), 1)
        if self.oracle is not None:
            self.oracle.max_trials = len(self.oracle.trials)
        return True


class SearchClock(keras.callbacks.Callback):
    """Records time-to-target on its `Stopwatch` and enforces the stopwatch's deadline.

    keras-tuner deep-copies callbacks for every trial; the copies share the
    stopwatch. At the deadline the running fit stops after its current batch
    (Keras still validates that epoch, so the trial gets a score) and no new
    trial starts.
    """

    def __init__(self, stopwatch):
        super().__init__()
        self.stopwatch = stopwatch

    def __deepcopy__(self, memo):
        return SearchClock(self.stopwatch)

    def on_train_batch_end(self, batch, logs=None):
        if self.stopwatch.check_deadline():
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.stopwatch.check_deadline()

    def on_epoch_end(self, epoch, logs=None):
        watch, value = self.stopwatch, (logs or {}).get(self.stopwatch.monitor)
        if watch.target is not None and watch.reached is None and value is not None \
                and value >= watch.target:
            watch.reached = round(watch.elapsed(), 1)


class EpochTimer(keras.callbacks.Callback):
    """Appends each epoch's seconds (`on_epoch_begin` to `on_epoch_end`) to `durations`."""

    def __init__(self):
        super().__init__()
        self.durations = []

    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self._began)


# The seconds inside the peer's train steps, measured as tfopt measures its own (tfopt's
# `StepClock`: each fit's first batch, which carries the tracing, counts as one average
# step); keras-tuner's per-trial copies share its tally, and `TrialStats` resets it.
STEP_CLOCK = StepClock()


class TrialStats:
    """keras-tuner `Tuner` mixin: `self.trial_stats[trial_id]` = {"epochs_run", "seconds",
    "step_seconds", "peak_rss_mb"}, timed where tfopt times its own trials (after
    `on_trial_begin` to the start of `on_trial_end`). `step_seconds` needs a
    `STEP_CLOCK` among the search's callbacks."""

    def on_search_begin(self):
        super().on_search_begin()
        self.trial_stats = {}

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        STEP_CLOCK.reset()
        self._epochs_run = 0
        self._trial_started = time.monotonic()

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs=logs)
        self._epochs_run += 1

    def on_trial_end(self, trial):
        self.trial_stats[trial.trial_id] = {
            "epochs_run": self._epochs_run,
            "seconds": round(time.monotonic() - self._trial_started, 2),
            "step_seconds": round(STEP_CLOCK.total, 2), "peak_rss_mb": peak_rss_mb()}
        super().on_trial_end(trial)


def run_side(entry, /, *, threads, cpus=None, **kwargs):
    """Runs `entry` ("module:function") with `kwargs` in a fresh Python process (pinned to
    `cpus` when given) and returns its (JSON-able dict) result, or {"error": its last
    output line} when it fails. The process's output is copied to our stderr."""
    with tempfile.TemporaryDirectory(prefix="tfopt-bench-") as scratch:
        result = os.path.join(scratch, "result.json")
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, "-m", "benchmarks.harness", entry, json.dumps(kwargs),
                   str(threads), result]
        last = ""
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env, cwd=REPO, preexec_fn=pin) as process:
            for line in process.stdout:
                sys.stderr.write(line)
                last = line.strip() or last
        if process.returncode != 0 or not os.path.isfile(result):
            return {"error": f"{entry} exited with status {process.returncode}: {last}"}
        with open(result) as f:
            return json.load(f)


def _run_entry(entry, kwargs, threads, result):
    """In the side's process: the same TensorFlow thread settings, then `entry(**kwargs)`."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    module, function = entry.split(":")
    value = getattr(importlib.import_module(module), function)(**kwargs)
    with open(result, "w") as f:
        json.dump(value, f)


def cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine_info(threads):
    """Cores, CPU model, whether /proc/cpuinfo lists avx512_bf16, and the threads used."""
    model, flags = platform.processor(), []
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines
                      if line.startswith("model name")), model)
        flags = next((line.split(":", 1)[1].split() for line in lines
                      if line.startswith("flags")), [])
    return {"cores": cores(), "cpu": model, "avx512_bf16": "avx512_bf16" in flags,
            "threads": threads, "platform": platform.platform()}


def versions():
    """Installed versions of tfopt, TensorFlow, Keras, keras-tuner, NumPy and Python."""
    found = {"python": platform.python_version()}
    for name in ("tfopt", "tensorflow", "keras", "keras-tuner", "numpy"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


if __name__ == "__main__":  # python -m benchmarks.harness ENTRY KWARGS_JSON THREADS RESULT
    from benchmarks import harness  # the importable module, whose classes the sides use

    harness._run_entry(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
