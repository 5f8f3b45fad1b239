"""The cases, and tfopt's side of each.

A case runs tfopt's side and then the peer's (`benchmarks.peers`), each in a
fresh process with the same thread settings, and returns a dict: `budget` (the
work each side gets), `figures` ({name: {"tfopt", "peer"}}), `ratios` (one per
figure, in the same order; above 1 is better for tfopt), `goal`, `met` (None
when it cannot be judged), `notes`, and both sides' raw results.
"""

import concurrent.futures as concurrent_futures
import json
import os
import statistics
import time

from benchmarks.harness import EpochTimer, SearchClock, Stopwatch, run_side


class Skipped(Exception):
    """A case that cannot run here (its data is missing); the message says why."""


# tfopt's sides: each runs in its own process (`harness.run_side`).

def tfopt_tuning(task, budget, out, target):
    """`tfopt.search(task, budget=...)` with its defaults; seconds from the call (data
    loading included, as for the peer) to a trial's first epoch with val_accuracy >= `target`."""
    from tfopt import search  # imported before the clock starts, as the peer's imports are

    watch = Stopwatch(target=target)
    result = search(task, budget=budget, out=out, verbose=0, callbacks=[SearchClock(watch)])
    results = result.results
    return {"test_accuracy": results["test_accuracy"], "trials_run": results["trials_run"],
            "trials_completed": results["trials_completed"], "time_to_target": watch.reached,
            "wall_seconds": round(watch.elapsed(), 1), "tuner": results["tuner"],
            "model": results["model"], "final_model": results["final_model"],
            "budget": results["budget"], "best_hyperparameters": results["best_hyperparameters"]}


def tfopt_throughput(size, epochs, seed=0):
    """tfopt's input pipeline, trial `fit` (`VGGHyperModel.fit` on `to_dataset`) and default
    precision (float32 unless the default changes) with the
    default VGG, on the first `size` Fashion-MNIST training images."""
    import keras
    import keras_tuner as kt

    from tfopt.data.pipeline import to_dataset
    from tfopt.config import SearchConfig
    from tfopt.training.strategy import set_mixed_precision
    from tfopt.tuning.hypermodels import VGGHyperModel
    from tfopt.data.tasks import get_task, load_data

    keras.utils.set_random_seed(seed)
    policy = set_mixed_precision(SearchConfig.mixed_precision)  # tfopt's default
    data = load_data(get_task("fashion_mnist"))
    x, y = data.x_train[:size], data.y_train[:size]
    hypermodel, hp = VGGHyperModel(data.input_shape, data.num_classes), kt.HyperParameters()
    model = hypermodel.build(hp)
    timer = EpochTimer()
    hypermodel.fit(hp, model, to_dataset(x, y, "image"), epochs=epochs, callbacks=[timer],
                   verbose=0)
    return {"examples": len(y), "epoch_seconds": [round(s, 3) for s in timer.durations],
            "dtype_policy": policy}


def tfopt_trials(task, trials, out):
    """A random search of `trials` one-epoch trials; tfopt's own trial_stats.json."""
    from tfopt import search

    started = time.monotonic()
    result = search(task, tuner="random", max_trials=trials, epochs=1, out=out, verbose=0,
                    retrain=False)
    stats = json.loads((result.run_dir / "tuner" / "trial_stats.json").read_text())
    return {"trial_stats": stats, "wall_seconds": round(time.monotonic() - started, 1)}


# The cases, run in the benchmark's own process.

def tuning(*, task, budget, target, goal_ratio, time_goal, out, threads, concurrent=False):
    """Best-model test error within the same wall-clock budget, and seconds to `target`
    val_accuracy. Goal: error_ratio >= `goal_ratio` and, when `time_goal`,
    time_to_target_ratio >= `time_goal`. `concurrent` runs both sides at once, each
    on its own half of the cores (the quick mode's way to fit in 10 minutes)."""
    _require_data(task)
    sides = _run_both("tuning", threads=threads, task=task, budget=budget, out=out,
                      target=target, concurrent=concurrent)
    errors = _per_side(sides, lambda side: round(1 - side["test_accuracy"], 4))
    times = _per_side(sides, lambda side: side["time_to_target"])
    error_ratio = _ratio(errors["peer"], errors["tfopt"])
    time_ratio = _ratio(times["peer"], times["tfopt"])
    notes = [f"{name} never reached val_accuracy >= {target} in {budget:g} s"
             for name, side in sides.items() if "error" not in side and times[name] is None]
    goal = f"error_ratio >= {goal_ratio}"
    met = error_ratio is not None and error_ratio >= goal_ratio
    if time_goal:
        goal += f" and time_to_target_ratio >= {time_goal}"
        # Only tfopt reaching the target counts as met; neither or only the peer does not.
        met = met and (time_ratio >= time_goal if time_ratio is not None
                       else times["tfopt"] is not None and "error" not in sides["peer"])
    return _record({"seconds_each": budget, "target_val_accuracy": target,
                    "sides": "at once, half the cores each" if concurrent else
                             "one after the other, all cores each"}, sides,
                   {"test_error": errors, "time_to_target_seconds": times},
                   {"error_ratio": error_ratio, "time_to_target_ratio": time_ratio},
                   goal, met, notes)


def throughput(*, size, epochs, out, threads):
    """Training examples per second after the first epoch. Goal: tfopt / peer >= 1.0."""
    sides = _run_both("throughput", threads=threads, size=size, epochs=epochs)
    rates = _per_side(sides, lambda side: round(
        side["examples"] * (epochs - 1) / sum(side["epoch_seconds"][1:]), 1))
    ratio = _ratio(rates["tfopt"], rates["peer"])
    return _record({"examples": size or "all", "epochs": epochs,
                    "measured_epochs": f"2-{epochs}"}, sides,
                   {"examples_per_second": rates}, {"throughput_ratio": ratio},
                   "throughput_ratio >= 1.0", ratio is not None and ratio >= 1.0)


def overhead(*, task, trials, out, threads, goal=0.15, concurrent=False):
    """Share of a one-epoch trial spent outside training steps (median over trials 2..N).
    Goal: tfopt's median share < `goal`. With `concurrent` (the quick mode) the sides run at
    once on half the cores each: a share of each side's own trial time, under the same load."""
    _require_data(task)
    sides = _run_both("trials", threads=threads, task=task, trials=trials, out=out,
                      concurrent=concurrent)
    for side in sides.values():
        if "error" not in side:
            side.update(overhead_shares(side["trial_stats"]))
    shares = _per_side(sides, lambda side: side["median_share"])
    notes = [f"{name}: trial_stats has no step_seconds" for name, side in sides.items()
             if "error" not in side and side["median_share"] is None] + _shared(sides)
    return _record({"trials": trials, "epochs": 1, "tuner": "random",
                    "sides": "at once, half the cores each" if concurrent else
                             "one after the other, all cores each"}, sides,
                   {"median_overhead_share": shares},
                   {"overhead_ratio": _ratio(shares["peer"], shares["tfopt"])},
                   f"tfopt median_overhead_share < {goal}",
                   shares["tfopt"] is not None and shares["tfopt"] < goal, notes)


def memory(*, task, trials, out, threads, goal=0.10):
    """Growth of the peak RSS from trial 2 to trial `trials` of one search.
    Goal: tfopt's growth < `goal`. Memory does not depend on the cores a side has, so the
    sides run at once (half the cores each), to keep the quick mode within 10 minutes."""
    sides = _run_both("trials", threads=threads, task=task, trials=trials, out=out,
                      concurrent=True)
    for side in sides.values():
        if "error" not in side:
            side.update(memory_growth(side["trial_stats"]))
    growth = _per_side(sides, lambda side: side["growth"])
    ratio = _ratio(growth["peer"], growth["tfopt"])
    notes = ["growth_ratio is null: tfopt's peak RSS did not grow"] \
        if growth["tfopt"] is not None and growth["tfopt"] <= 0 else []
    notes += _shared(sides)
    return _record({"trials": trials, "epochs": 1, "tuner": "random",
                    "sides": "at once, half the cores each"}, sides,
                   {"peak_rss_growth": growth}, {"growth_ratio": ratio},
                   f"tfopt peak_rss_growth < {goal}",
                   growth["tfopt"] is not None and growth["tfopt"] < goal, notes)


def overhead_shares(stats):
    """Per-trial (seconds - step_seconds) / seconds in trial order; the median skips trial 1
    (it pays for first-time imports and tracing)."""
    ordered = [stats[key] for key in sorted(stats, key=int)]
    if any(s.get("step_seconds") is None for s in ordered):
        return {"shares": None, "first_trial_share": None, "median_share": None}
    shares = [round((s["seconds"] - s["step_seconds"]) / s["seconds"], 4) for s in ordered]
    return {"shares": shares, "first_trial_share": shares[0],
            "median_share": round(statistics.median(shares[1:] or shares), 4),
            "median_trial_seconds": round(statistics.median(s["seconds"] for s in ordered), 2)}


def memory_growth(stats):
    """Peak RSS (MiB) after trial 2 and after the last trial, and the relative growth."""
    rss = [stats[key]["peak_rss_mb"] for key in sorted(stats, key=int)]
    return {"peak_rss_mb_trial_2": rss[1], "peak_rss_mb_last": rss[-1], "last_trial": len(rss),
            "growth": round((rss[-1] - rss[1]) / rss[1], 4)}


_RUNS = {}  # the sides of each run so far, by what was asked: cases asking the same share it


def _run_both(kind, *, out=None, threads, concurrent=False, **kwargs):
    """tfopt's side of `kind` (`tfopt_<kind>` here) and the peer's (`peers.<kind>`), each in
    a fresh process: one after the other, or with `concurrent` at the same time on
    disjoint halves of the cores; {"tfopt": result, "peer": result}. A second case asking
    for the same run (the quick mode's overhead_digits and memory) gets the first one's
    results, each side marked `"shared_run": true`."""
    key = json.dumps([kind, threads, concurrent, kwargs], sort_keys=True)
    if key in _RUNS:
        return {name: {**side, "shared_run": True} for name, side in _RUNS[key].items()}
    _RUNS[key] = _run_both_now(kind, out=out, threads=threads, concurrent=concurrent, **kwargs)
    return _RUNS[key]


def _run_both_now(kind, *, out, threads, concurrent, **kwargs):
    entries = {"tfopt": f"benchmarks.cases:tfopt_{kind}", "peer": f"benchmarks.peers:{kind}"}

    def side(name, cpus=None):
        extra = {"out": f"{out}/{name}"} if out else {}
        return run_side(entries[name], threads=len(cpus) if cpus else threads, cpus=cpus,
                        **kwargs, **extra)

    if not concurrent:
        return {name: side(name) for name in entries}
    cpus = sorted(os.sched_getaffinity(0))
    half = max(1, len(cpus) // 2)
    halves = {"tfopt": cpus[:half], "peer": cpus[half:2 * half] or cpus[:half]}
    with concurrent_futures.ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(side, name, halves[name]) for name in entries}
        return {name: future.result() for name, future in futures.items()}


def _shared(sides):
    return ["the same runs as an earlier case (the same search, asked for again)"] \
        if sides["tfopt"].get("shared_run") else []


def _per_side(sides, figure):
    """{"tfopt": figure(result), "peer": ...}, None for a side that failed."""
    return {name: None if "error" in side else figure(side) for name, side in sides.items()}


def _record(budget, sides, figures, ratios, goal, met, notes=()):
    """A case's result; `met` is None when a side failed (then `notes` say how)."""
    failed = [f"{name} failed: {side['error']}" for name, side in sides.items() if "error" in side]
    return {"budget": budget, "figures": figures, "ratios": ratios, "goal": goal,
            "met": None if failed else bool(met), "notes": failed + list(notes), **sides}


def _require_data(task):
    """Raises `Skipped` when `task` is MR and its files are not in `$TFOPT_DATA_DIR`."""
    if task != "mr":
        return
    from tfopt.data.download import find_local, resolve_data_dir
    from tfopt.data.text import MR_SHA256
    from tfopt.errors import InputError

    try:
        data_dir = resolve_data_dir()
    except InputError as error:
        raise Skipped(str(error)) from error
    if find_local(data_dir, ["mr", "rt-polaritydata"], list(MR_SHA256)) is None:
        raise Skipped(f"the MR data is not in $TFOPT_DATA_DIR ({data_dir or 'unset'}); "
                      "`make bench` sets it to ../shared/datasets")


def _ratio(numerator, denominator):
    if numerator is None or not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 3)
