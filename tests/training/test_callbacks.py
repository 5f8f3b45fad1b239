"""tfopt.training.callbacks: the step clock that splits a trial's time into steps and overhead."""

import itertools

from tfopt.training import callbacks
from tfopt.training.callbacks import StepClock


def test_step_clock_counts_each_fits_first_batch_as_an_average_step(monkeypatch):
    # batch times of two fits: 5 s (tracing + a step), then 1 s and 2 s; then 4 s, 3 s
    ends = iter(itertools.accumulate([0, 5, 0, 1, 0, 2, 0, 4, 0, 3]))
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(ends))
    clock = StepClock()
    copy = StepClock.__deepcopy__(clock, {})  # keras-tuner's per-trial copy: the same tally
    clock.on_train_begin()
    for batch in range(3):
        clock.on_train_batch_begin(batch)
        clock.on_train_batch_end(batch)
    clock.on_train_end()
    assert clock.total == 1 + 2 + 1.5
    copy.on_train_begin()
    for batch in range(2):
        copy.on_train_batch_begin(batch)
        copy.on_train_batch_end(batch)
    copy.on_train_end()
    assert clock.total == 4.5 + 3 + 3  # one batch after the first: it is the average
    clock.reset()
    assert copy.total == 0
