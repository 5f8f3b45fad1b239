"""A digits grid search whose second trial's model is too large for the memory limit set
on this process (RLIMIT_AS: what it has mapped now plus 3 GiB); run by test_recovery.

    python tests/tuning/oom_child.py OUT
"""

import json
import resource
import sys

import keras

import tfopt

HUGE = 60000  # units: a 60000 x 60000 float32 kernel alone is 13.4 GiB


def build(hp, input_shape, num_classes):
    units = hp.Choice("units", [16, HUGE, 32], ordered=False)
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(num_classes, activation="softmax")])


def resident_mb():
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * resource.getpagesize() / 2 ** 20


def mapped_bytes():
    with open("/proc/self/statm") as file:
        return int(file.read().split()[0]) * resource.getpagesize()


class Resident(keras.callbacks.Callback):
    after = []

    def on_train_end(self, logs=None):
        Resident.after.append(resident_mb())


def main(out):
    import tensorflow  # noqa: F401  its start-up mappings count before the limit

    limit = mapped_bytes() + 3 * 2 ** 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    tfopt.search("digits", model=build, tuner="grid", max_trials=3, epochs=1, retrain=False,
                 out=out, verbose=0, callbacks=[Resident()])
    print(json.dumps({"resident_mb_after_trials": Resident.after,
                      "resident_mb_end": resident_mb()}))


if __name__ == "__main__":
    main(*sys.argv[1:])
