"""benchmarks/: the harness's budget and target clock, the figures, the CLI, one tiny case."""

import json
import os
import pathlib
import sys
import time

import keras
import keras_tuner as kt
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks/ is run from the repository root, not installed

from benchmarks import __main__ as bench  # noqa: E402
from benchmarks import cases  # noqa: E402
from benchmarks.harness import SearchClock, Stopwatch  # noqa: E402


def _tiny_build(hp):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp.Int("units", 2, 8)),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_search_clock_stops_a_peer_search_at_its_budget(tmp_path):
    x = np.random.rand(64, 4).astype("float32")
    y = (x[:, 0] > 0.5).astype("int32")
    tuner = kt.RandomSearch(_tiny_build, objective="val_accuracy", max_trials=1000,
                            directory=tmp_path, project_name="peer", overwrite=True)
    watch = Stopwatch(budget=2.0, target=0.0)
    watch.oracle = tuner.oracle
    tuner.search(x, y, epochs=100_000, validation_data=(x, y), callbacks=[SearchClock(watch)],
                 verbose=0)
    elapsed = watch.elapsed()
    assert elapsed < 30, "the deadline did not stop the search"
    assert watch.stopped is not None and watch.stopped >= 2.0
    assert tuner.oracle.max_trials == len(tuner.oracle.trials) < 1000
    assert watch.reached is not None and watch.reached <= elapsed  # any epoch hits 0.0
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())


def test_search_clock_copies_share_the_stopwatch():
    import copy

    watch = Stopwatch(target=0.5)
    clock = copy.deepcopy(SearchClock(watch))
    clock.on_epoch_end(0, {"val_accuracy": 0.4})
    assert watch.reached is None
    clock.on_epoch_end(1, {"val_accuracy": 0.6})
    assert clock.stopwatch is watch and watch.reached is not None


def test_overhead_shares_skip_the_first_trial_in_the_median():
    stats = {trial: {"seconds": seconds, "step_seconds": steps}
             for trial, seconds, steps in [("10", 10.0, 9.0), ("2", 10.0, 8.0), ("1", 10.0, 5.0),
                                           ("3", 4.0, 3.0)]}
    shares = cases.overhead_shares(stats)
    assert shares["shares"] == [0.5, 0.2, 0.25, 0.1]  # in trial order, "10" last
    assert shares["first_trial_share"] == 0.5
    assert shares["median_share"] == pytest.approx(0.2)
    assert cases.overhead_shares({"0": {"seconds": 1.0, "step_seconds": None}})["median_share"] \
        is None


def test_memory_growth_from_trial_two_to_the_last():
    stats = {str(i): {"peak_rss_mb": rss} for i, rss in enumerate([900.0, 1000.0, 1050.0, 1100.0])}
    assert cases.memory_growth(stats) == {"peak_rss_mb_trial_2": 1000.0, "peak_rss_mb_last": 1100.0,
                                          "last_trial": 4, "growth": 0.1}


def test_scaled_shrinks_seconds_trials_and_images():
    assert bench.scaled({"budget": 120, "trials": 8, "size": 10_000, "epochs": 3}, 0.1) == \
        {"budget": 12.0, "trials": 3, "size": 1024, "epochs": 3}
    assert bench.scaled({"size": None, "epochs": 4}, 0.5) == {"size": 27_000, "epochs": 4}


def test_cli_rejects_unknown_cases_and_an_out_folder_in_runs(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--cases", "tuning_fashon"])
    assert "Known cases: tuning_fashion" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--out", str(REPO / "runs" / "bench")])
    assert "must not be inside" in capsys.readouterr().err


def test_mr_cases_are_skipped_without_the_data(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TFOPT_DATA_DIR", str(tmp_path))
    assert bench.main(["--quick", "--cases", "overhead_mr", "--out", str(tmp_path / "s")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["case"] == "overhead_mr" and record["met"] is None
    assert "MR data is not in $TFOPT_DATA_DIR" in record["skipped"]


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="needs Debian's fashion-mnist package")
@pytest.mark.integration
def test_throughput_case_prints_one_json_line(tmp_path, capsys):
    started = time.monotonic()
    assert bench.main(["--quick", "--cases", "throughput", "--scale", "0.01",
                       "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {"case", "mode", "scale", "budget", "figures", "ratios", "goal", "met", "notes",
            "tfopt", "peer", "machine", "versions", "date"} <= set(record)
    assert record["case"] == "throughput" and record["mode"] == "quick"
    assert record["budget"] == {"examples": 1024, "epochs": 3, "measured_epochs": "2-3"}
    rates = record["figures"]["examples_per_second"]
    assert rates["tfopt"] > 0 and rates["peer"] > 0
    assert record["ratios"]["throughput_ratio"] == pytest.approx(rates["tfopt"] / rates["peer"],
                                                                 rel=1e-2)
    assert isinstance(record["met"], bool)
    assert len(record["tfopt"]["epoch_seconds"]) == len(record["peer"]["epoch_seconds"]) == 3
    assert {"cores", "cpu", "avx512_bf16", "threads"} <= set(record["machine"])
    assert {"tensorflow", "keras", "keras-tuner"} <= set(record["versions"])
    assert time.monotonic() - started < 120


def test_small_data_folder_holds_the_first_images_of_each_fashion_class(tmp_path):
    from benchmarks import small_data

    from tfopt.data.images import FASHION_DEBIAN

    if not pathlib.Path(FASHION_DEBIAN).is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    folder = small_data.fashion_folder(tmp_path / "f", per_class=2)
    images, labels = small_data._fashion_train()
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == \
        sorted(small_data.FASHION_CLASSES)
    bag = sorted((folder / "bag").glob("*.png"))
    assert len(bag) == 2
    first_bag = images[np.flatnonzero(labels == small_data.FASHION_CLASSES.index("bag"))[0]]
    png = keras.utils.img_to_array(keras.utils.load_img(bag[0], color_mode="grayscale"))
    np.testing.assert_array_equal(png[..., 0], first_bag)
    bag[0].unlink()
    small_data.fashion_folder(tmp_path / "f", per_class=2)  # made once: not written again
    assert not bag[0].exists()
