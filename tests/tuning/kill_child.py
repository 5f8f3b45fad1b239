"""A small digits search that SIGKILLs its own process at a chosen point (for test_recovery).

    python tests/tuning/kill_child.py OUT LOG [POINT N]

POINT: "batch" (at the N-th training batch of this process), "write" (inside the
N-th state-file write, after the temporary file and before the rename),
"between" (right after the N-th state-file write, before the next one) or
"trial" (whenever trial N starts). Without POINT the search runs to its end. Every
epoch begun is appended to LOG as a JSON line {"pid", "epoch"}.
"""

import json
import os
import signal
import sys

import keras

import tfopt
from tfopt import durable
from tfopt.tuning import recovery

MAX_TRIALS, EPOCHS = 3, 3
# Batches of 128 (11 steps an epoch on digits) rather than the small-data default of 32: what
# is tested is the recovery, and each test runs this search 3 times.
FAST = {"batch_size": 128}


def kill():
    os.kill(os.getpid(), signal.SIGKILL)


class EpochLog(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_begin(self, epoch, logs=None):
        with open(self.path, "a") as file:
            file.write(json.dumps({"pid": os.getpid(), "epoch": epoch}) + "\n")


class KillAtBatch(keras.callbacks.Callback):
    seen = 0  # over every trial's copy

    def __init__(self, n):
        super().__init__()
        self.n = n

    def on_train_batch_end(self, batch, logs=None):
        KillAtBatch.seen += 1
        if KillAtBatch.seen == self.n:
            kill()


def kill_at_write(n, between):
    original, calls = durable._write_atomically, [0]

    def write(tmp, path, data):
        calls[0] += 1
        if calls[0] == n and not between:
            tmp.write_bytes(data[: len(data) // 2])  # half-written, never renamed
            kill()
        original(tmp, path, data)
        if calls[0] == n:
            kill()

    durable._write_atomically = write


def kill_at_trial(trial_id):
    original = recovery.ResumableTuner.run_trial

    def run_trial(self, trial, *args, **kwargs):
        if trial.trial_id == trial_id:
            kill()
        return original(self, trial, *args, **kwargs)

    recovery.ResumableTuner.run_trial = run_trial


def main(out, log, point=None, n=None):
    callbacks = [EpochLog(log)]
    if point == "batch":
        callbacks.append(KillAtBatch(int(n)))
    elif point in ("write", "between"):
        kill_at_write(int(n), between=point == "between")
    elif point == "trial":
        kill_at_trial(n)
    tfopt.search("digits", tuner="random", max_trials=MAX_TRIALS, epochs=EPOCHS, retrain=False,
                 space=FAST, out=out, seed=1, verbose=0, callbacks=callbacks)


if __name__ == "__main__":
    main(*sys.argv[1:])
