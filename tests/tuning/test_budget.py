"""The wall-clock budget: parsing, the fit rule, the deadline callback, and a budgeted search."""

import json

import keras
import numpy as np
import pytest

import tfopt
from tfopt.tuning.budget import Budget, format_seconds, parse_budget
from tfopt.training.callbacks import DeadlineCallback
from tfopt.errors import InputError
from tfopt.tuning.tuners import best_epochs, tuned_values


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("10m", 600), ("2h", 7200),
                                           ("1.5h", 5400), (" 45 ", 45), (30, 30), (2.5, 2.5)])
def test_parse_budget_accepts_seconds_minutes_and_hours(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["10x", "m10", "", "-5m", "0s", 0, "ten minutes", True])
def test_parse_budget_rejects_anything_else_naming_the_value(text):
    with pytest.raises(InputError, match="budget must be"):
        parse_budget(text)


def test_format_seconds_reads_naturally():
    assert [format_seconds(s) for s in (45, 750, 7200)] == ["45 s", "12.5 min", "2.0 h"]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("epochs, epoch_seconds, seeds", [
    (3, 2.5, 3),  # Fashion-MNIST's 3,000-image folder: 2 x (3 + 3 x 1.1 x 2.5) = 22 s
    (27, 1.6, 1),  # 27 epochs at 1.6 s: 2 x (3 + 27 x 1.1 x 1.6) = 101 s
    (4, 20.0, 1),  # MR's TextCNN: 2 x (3 + 4 x 1.1 x 20) = 182 s
])
def test_default_seeds_stay_only_where_the_extra_retrainings_are_cheap(epochs, epoch_seconds,
                                                                       seeds):
    from tfopt.config import SearchConfig
    from tfopt.tuning.budget import CHEAP_RETRAININGS_SECONDS, cheap_seeds

    assert CHEAP_RETRAININGS_SECONDS == 60
    config = SearchConfig(seeds=3, epochs=epochs)
    assert cheap_seeds(config, 3.0, epoch_seconds, 1.1) == seeds


def test_a_trial_fits_only_with_room_for_itself_the_final_stage_and_the_margin():
    clock = FakeClock()
    budget = Budget(300, setup=2, epoch_seconds=10, final_runs=1, train_val_ratio=1.5,
                    margin=5, clock=clock)
    assert budget.fits(29)  # 2 + 290 <= 300 - 5
    assert not budget.fits(30) and "the next trial (30 epochs, about 5.0 min)" in budget.stopped
    budget.record_trial(32, 3, best_epochs=4)  # 10 s an epoch measured; retrain 4 * 1.5 epochs
    assert budget.final_seconds() == pytest.approx(2 + 4 * 1.5 * 10)
    assert budget.keeps_final()  # 62 s is within a quarter of 300 s
    assert budget.fits(23) and not budget.fits(24)  # 232 <= 300 - 62 - 5 < 242
    assert budget.epochs_that_fit() == 23
    clock.now += 20
    assert budget.fits(21) and not budget.fits(22)  # 212 <= 280 - 62 - 5 < 222


def test_a_retraining_over_a_quarter_of_the_budget_is_not_kept_aside():
    budget = Budget(100, setup=2, epoch_seconds=10, final_runs=1, train_val_ratio=1.5,
                    margin=5, clock=FakeClock())
    budget.record_trial(32, 3, best_epochs=4)  # retraining: 62 s, over 25 s
    assert not budget.keeps_final()
    assert budget.search_remaining() == pytest.approx(95)
    assert budget.fits(9) and not budget.fits(10) and budget.epochs_that_fit() == 9


@pytest.mark.parametrize("left, epochs", [(2 + 10 + 5, 1), (2 + 6 + 5, 1), (2 + 4 + 5, 0)])
def test_at_least_half_an_epoch_left_is_still_used(left, epochs):
    clock = FakeClock()
    budget = Budget(left, setup=2, epoch_seconds=10, margin=5, clock=clock)
    assert budget.epochs_that_fit() == epochs  # a whole epoch, 0.6 of one, 0.4 of one


def test_measured_epochs_replace_the_probes_estimate():
    budget = Budget(600, setup=1, epoch_seconds=5, clock=FakeClock())
    budget.record_trial(seconds=21, epochs_run=2)
    budget.record_trial(seconds=31, epochs_run=2)
    assert budget.epoch_seconds == pytest.approx((10 + 15) / 2)


def test_each_next_trial_is_estimated_by_its_own_models_cost():
    # Fashion-MNIST on one core, as the probe timed them: the defaults (0.5 M multiply-adds an
    # example) 12.9 s an epoch, a 3-block model (29.7 M) 136 s
    costs = {"small": 0.5e6, "large": 29.7e6, "middle": 18.7e6}
    budget = Budget(1200, setup=1, epoch_seconds=74, clock=FakeClock(),
                    timings=[(0.5e6, 12.9), (29.7e6, 136.0)], cost=lambda v: costs[v["model"]])
    assert budget.model_epoch_seconds({"model": "small"}) == pytest.approx(12.9, rel=1e-3)
    assert budget.model_epoch_seconds({"model": "large"}) == pytest.approx(136.0, rel=1e-3)
    # on the line through both: 12.9 + (18.7 - 0.5) / (29.7 - 0.5) * (136 - 12.9)
    assert budget.model_epoch_seconds({"model": "middle"}) == pytest.approx(89.6, abs=0.1)
    assert budget.model_epoch_seconds() == 74  # no model given: the mean
    assert budget.trial_seconds(3, {"model": "large"}) == pytest.approx(1 + 3 * 136, rel=1e-3)
    # a trial that continues another takes that one's measured time an epoch
    budget.record_trial(seconds=101, epochs_run=2, trial_id="0001", values={"model": "middle"})
    assert budget.model_epoch_seconds({"model": "middle", "tuner/trial_id": "0001"}) == 50
    # and each measured trial joins the estimate (the middle model turned out cheaper)
    assert budget.model_epoch_seconds({"model": "middle"}) < 89.6


def test_a_costly_model_does_not_fit_where_a_cheap_one_does():
    budget = Budget(300, setup=1, epoch_seconds=74, margin=10, clock=FakeClock(),
                    timings=[(0.5e6, 12.9), (29.7e6, 136.0)], cost=lambda v: v["cost"])
    assert budget.fits(3, {"cost": 0.5e6}) and budget.stopped is None
    assert not budget.fits(3, {"cost": 29.7e6})
    assert budget.stopped.startswith("the next trial (3 epochs, about 6.8 min)")
    assert budget.fits(3, {"cost": 1e6}) and budget.stopped is None  # a later draw that fits
    # one known cost cannot tell the slope: the mean of the trials (74 s) stands in
    flat = Budget(300, setup=1, epoch_seconds=74, margin=10, clock=FakeClock(),
                  timings=[(0.5e6, 12.9)], cost=lambda v: v["cost"])
    assert flat.model_epoch_seconds({"cost": 29.7e6}) == 74


def test_a_trial_shorter_than_the_probes_setup_still_costs_time_an_epoch():
    # digits: the probe's 2.4 s build is more than a whole small trial takes
    budget = Budget(30, setup=2.4, epoch_seconds=0.3, margin=5, clock=FakeClock())
    budget.record_trial(seconds=2.0, epochs_run=2, best_epochs=2, trial_id="0003",
                        best_trial_id="0003")
    assert budget.best_epoch_seconds() == pytest.approx(0.5)  # half the trial, over 2 epochs
    assert budget.epochs_that_fit(continuing=2) > 0
    budget.record_trial(seconds=0.0, epochs_run=1, trial_id="0004")  # at least 0.01 s
    assert budget.epoch_seconds == pytest.approx((0.5 + 0.01) / 2)


def test_the_margin_grows_with_the_final_stages_test_passes_and_builds():
    # Fashion-MNIST: 10,000 test images over 54,000 training ones, 21 s an epoch, no
    # retraining: 3 s, a 2.4 s build and 4 test passes of 21 * 10/54 / 3 s, plus 3% of 180 s
    fashion = Budget(180, setup=2.4, epoch_seconds=21, test_ratio=10 / 54, clock=FakeClock())
    assert fashion.margin == pytest.approx(3 + 2.4 + 4 * 21 * 10 / 54 / 3 + 5.4)
    retraining = Budget(180, setup=2.4, epoch_seconds=21, test_ratio=10 / 54, final_runs=1,
                        clock=FakeClock())
    assert retraining.margin == pytest.approx(fashion.margin + 21 * 10 / 54 / 3)
    # noise is at most 30 s, however long the budget
    assert Budget(7200, setup=1, epoch_seconds=1).margin == pytest.approx(3 + 1 + 30)
    # the best trial's own seconds an epoch, once known
    fashion.record_trial(seconds=2.4 + 42, epochs_run=1, best_epochs=1, trial_id="0000",
                         best_trial_id="0000")
    assert fashion.margin == pytest.approx(3 + 2.4 + 4 * 42 * 10 / 54 / 3 + 5.4)


def test_the_retraining_is_estimated_from_the_best_trials_own_epochs():
    budget = Budget(1200, setup=2, epoch_seconds=50, final_runs=1, train_val_ratio=1.1,
                    margin=10, clock=FakeClock())
    budget.record_trial(62, 3, trial_id="a", best_epochs=3, best_trial_id="a")  # 20 s an epoch
    budget.record_trial(302, 3, trial_id="b", best_epochs=3, best_trial_id="a")  # 100 s an epoch
    assert budget.epoch_seconds == pytest.approx(60)  # the next, unknown trial: the mean
    assert budget.best_epoch_seconds() == pytest.approx(20)
    assert budget.final_seconds() == pytest.approx(2 + 3 * 1.1 * 20)
    budget.record_trial(152, 5, trial_id="c", best_epochs=4, best_trial_id="c")
    assert budget.final_seconds() == pytest.approx(2 + 4 * 1.1 * 30)


def test_a_continuation_leaves_time_to_retrain_all_its_epochs():
    clock = FakeClock()
    budget = Budget(1000, setup=2, epoch_seconds=50, final_runs=1, train_val_ratio=1.0,
                    margin=10, clock=clock)
    budget.record_trial(42, 2, trial_id="a", best_epochs=2, best_trial_id="a")  # 20 s an epoch
    budget.record_trial(302, 3, trial_id="b", best_epochs=2, best_trial_id="a")  # 100 s an epoch
    clock.now += 700
    # 300 s left: 2 s setup + 20 s an epoch added, then 2 s + 20 s for each of 2 + added epochs
    assert budget.epochs_that_fit(continuing=2) == 6  # 2 + 120 + 2 + 160 = 284 <= 300 - 10
    assert budget.trial_seconds(6) > budget.search_remaining()  # the mean's 60 s: no fit
    alone = Budget(1000, setup=2, epoch_seconds=20, margin=10, clock=clock)
    alone.record_trial(42, 2, trial_id="a", best_epochs=2, best_trial_id="a")
    clock.now += 700
    assert alone.epochs_that_fit(continuing=2) == 14  # no retraining: (290 - 2) / 20
    costly = Budget(400, setup=2, epoch_seconds=20, final_runs=1, train_val_ratio=1.0,
                    margin=10, clock=clock)
    costly.record_trial(42, 2, trial_id="a", best_epochs=2, best_trial_id="a")
    # 9 epochs' retraining (182 s) would be over a quarter of 400 s: 4 epochs' (82 s) is not
    assert costly.epochs_that_fit(continuing=2) == 2
    assert costly.keeps_final(4) and not costly.keeps_final(5)
    over = Budget(400, setup=2, epoch_seconds=20, final_runs=1, train_val_ratio=1.0,
                  margin=10, clock=clock)
    over.record_trial(102, 5, trial_id="a", best_epochs=5, best_trial_id="a")
    # its retraining (102 s) is over the share already: none is kept, the trial takes the rest
    assert over.epochs_that_fit(continuing=5) == 19  # (400 - 10 - 2) / 20 = 19.4


def test_a_running_continuation_keeps_the_retraining_of_all_its_planned_epochs():
    clock = FakeClock()
    budget = Budget(1000, setup=2, epoch_seconds=20, final_runs=1, train_val_ratio=1.0,
                    margin=10, clock=clock)
    budget.record_trial(42, 2, trial_id="a", best_epochs=2, best_trial_id="a")
    clock.now += 700
    budget.continue_best("a", 2, 2 + budget.epochs_that_fit(continuing=2))
    assert budget.continued == [("a", 2, 8)]
    # while it runs, the deadline keeps 2 s + 8 epochs' retraining (162 s), not 2 epochs' 42 s
    assert budget.final_seconds() == pytest.approx(162)
    assert budget.search_remaining() == pytest.approx(300 - 162 - 10)
    clock.now += 128  # its epochs ran slower than 20 s: the deadline ends it here
    callback = DeadlineCallback(budget)
    callback.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    callback.model.stop_training = False
    callback.on_train_batch_end(0)
    assert callback.model.stop_training
    # a retraining past the quarter share is not kept for the continuation: nothing changes
    tight = Budget(400, setup=2, epoch_seconds=20, final_runs=1, train_val_ratio=1.0,
                   margin=10, clock=clock)
    tight.record_trial(42, 2, trial_id="a", best_epochs=2, best_trial_id="a")
    tight.continue_best("a", 2, 9)
    assert tight.best_epochs == 2 and tight.final_seconds() == pytest.approx(42)


def test_without_a_search_the_first_trial_leaves_time_to_retrain_it():
    clock = FakeClock()
    budget = Budget(300, setup=2, epoch_seconds=20, final_runs=1, train_val_ratio=1.1,
                    margin=10, explore=False, clock=clock)
    # (300 - 10 - 2 - 2) / (20 + 1.1 * 20) = 6.8: 6 epochs, then 6.6 epochs' retraining
    assert budget.first_trial_epochs() == 6 and budget.best_epochs == 6
    assert budget.keeps_final() and budget.search_remaining() == pytest.approx(300 - 10 - 134)
    searching = Budget(300, setup=2, epoch_seconds=20, final_runs=1, train_val_ratio=1.1,
                       margin=10, clock=clock)
    assert not searching.keeps_final(6)  # 134 s: over a quarter when there is a search
    no_retrain = Budget(300, setup=2, epoch_seconds=20, margin=10, explore=False, clock=clock)
    assert no_retrain.first_trial_epochs() == 15  # (300 - 10 - 2) / 20 = 14.4, the last cut


def test_without_a_search_the_first_trial_is_timed_by_its_own_model():
    clock = FakeClock()
    # the probe timed the defaults (cost 1) at 10 s an epoch and a sampled model (cost 9) at
    # 90 s: their mean, 50 s, is not what the defaults will take
    budget = Budget(300, setup=2, epoch_seconds=50, margin=10, explore=False, clock=clock,
                    cost=lambda values: values["cost"], timings=[(1, 10.0), (9, 90.0)])
    assert budget.first_trial_epochs({"cost": 1}) == 29  # (300 - 10 - 2) / 10 = 28.8
    assert budget.epoch_seconds == 10


def test_time_kept_for_a_retraining_that_no_longer_fits_goes_back_to_trials():
    clock = FakeClock()
    budget = Budget(60, setup=1, epoch_seconds=5, final_runs=1, train_val_ratio=1.0, margin=5,
                    explore=False, clock=clock)
    budget.record_trial(11, 2, trial_id="a", best_epochs=2, best_trial_id="a")  # 11 s kept
    clock.now += 30
    assert budget.keeps_final() and budget.search_remaining() == pytest.approx(30 - 11 - 5)
    # the continuation's epochs took longer: retraining 2 + 3 epochs at 8 s no longer fits
    budget.record_trial(25, 3, trial_id="b", best_epochs=5, best_trial_id="b")
    assert budget.final_seconds() == pytest.approx(41) and not budget.keeps_final()
    assert budget.search_remaining() == pytest.approx(25) and budget.epochs_that_fit(
        continuing=5) == 3  # (30 - 5 - 1) / 8


def test_the_best_trial_is_due_to_continue_once_half_the_budget_is_spent():
    clock = FakeClock()
    budget = Budget(100, setup=1, epoch_seconds=1, spent=10, clock=clock)
    assert not budget.exploit_due()
    clock.now += 39
    assert not budget.exploit_due()
    clock.now += 1  # 10 s loading + 40 s of trials: half of 100
    assert budget.exploit_due()
    budget.continued.append(("0003", 2, 9))
    assert not budget.exploit_due()  # once


def test_spent_time_counts_against_the_budget():
    clock = FakeClock()
    budget = Budget(60, setup=0, epoch_seconds=1, spent=15, margin=0, clock=clock)
    assert budget.remaining() == pytest.approx(45)


def test_deadline_callback_stops_training_at_the_deadline_and_copies_share_the_budget():
    import copy

    clock = FakeClock()
    budget = Budget(50, setup=0, epoch_seconds=1, margin=0, clock=clock)
    callback = copy.deepcopy(DeadlineCallback(budget))
    assert callback.budget is budget
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_batch_end(0)
    assert not model.stop_training
    clock.now += 51
    callback.on_train_batch_end(1)
    assert model.stop_training


def test_a_budgeted_search_stops_launching_trials_and_finishes_cleanly(tmp_path):
    budget = 18
    result = tfopt.search("digits", tuner="random", max_trials=200, epochs=2, budget=f"{budget}s",
                          out=str(tmp_path / "r"), verbose=0)
    summary = result.results["budget"]
    assert summary["seconds"] == budget
    assert summary["stopped"].startswith("the next trial (2 epochs")
    assert 1 <= result.results["trials_run"] < 200
    assert result.results["trials_completed"] == result.results["trials_run"]
    # stops in time: loading, the probe and the report are inside the budget; a few
    # seconds of slack for a loaded machine, not a benchmark
    assert result.results["wall_time_seconds"] < budget + 15
    assert np.isfinite(result.results["test_accuracy"])
    stats = json.loads((result.run_dir / "tuner" / "trial_stats.json").read_text())
    assert len(stats) == result.results["trials_run"]
    for trial in stats.values():
        # on a loaded machine the deadline may stop the last trial after its first batch,
        # which carries the tracing and is not a timed step
        assert 0 <= trial["step_seconds"] < trial["seconds"]
        assert trial["step_seconds"] > 0 or trial["epochs_run"] == 1
        assert 0 < trial["calibration_seconds"] < trial["seconds"]  # the VGG has BN layers
        assert trial["peak_rss_mb"] > 50
    assert "budget: trials" in (result.run_dir / "report.md").read_text()


@pytest.mark.slow  # 19 s; the brackets' rule is unit-tested above (epochs_for_budget)
def test_a_budget_repeats_hyperband_brackets_and_picks_max_epochs(tmp_path, capsys,
                                                                  monkeypatch):
    from tfopt.tuning import plan as plan_module

    # As the probe measures on an idle machine (1 s to build, 0.2 s an epoch): a round fits.
    monkeypatch.setattr(plan_module, "probe", lambda *args, **kwargs: (1.0, 0.2, []))
    result = tfopt.search("digits", budget="20s", retrain=False, out=str(tmp_path / "r"),
                          verbose=1)
    out = capsys.readouterr().out
    assert "one round of its brackets" in out and "Budget 20 s: the brackets repeat" in out
    assert "[tfopt] budget: no more trials: the next trial" in out
    assert result.results["budget"]["max_epochs"] in (3, 9, 27)
    assert result.tuner.oracle.hyperband_iterations > 1 and result.tuner.oracle.max_trials is None


def test_a_budget_too_short_for_a_round_trains_the_defaults_and_continues_them(
        tmp_path, monkeypatch, capsys):
    from tfopt.tuning import plan as plan_module

    # The probe says 3 s to build (as a trial's setup takes here) and 20 s an epoch: one round
    # of Hyperband's brackets (about 4 min) cannot fit.
    monkeypatch.setattr(plan_module, "probe", lambda *args, **kwargs: (3.0, 20.0, []))
    result = tfopt.search("digits", budget="60s", out=str(tmp_path / "r"), verbose=1)
    out = capsys.readouterr().out
    assert "one round would take more than 50% of it, so the default configuration trains " \
        "instead" in out
    assert "\x08" not in out and "\r" not in out  # not a terminal: Keras' lines, not bars
    summary = result.results["budget"]
    assert summary["searched"] is False
    trials = sorted(result.tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    # 60 s less loading, the margin (3 s + a build + 5 test passes at a third of an epoch's
    # time an example, about 15 s, then 1.8 s for noise) and two 3 s builds, at 20 s an epoch
    # plus 22 s an epoch's retraining (validation adds a tenth): 1 epoch, with time to retrain
    first = trials[0].hyperparameters.values
    assert len(trials) >= 2 and first["tuner/epochs"] == 1
    assert first["lr_schedule"] == "cosine"  # annealed over the epochs the budget gives it
    # an epoch really takes well under a second, so the time left continues the defaults
    continued, peak = trials[1].hyperparameters.values, best_epochs(trials[0])
    assert continued["tuner/trial_id"] == trials[0].trial_id
    assert continued["tuner/initial_epoch"] == peak and continued["tuner/epochs"] > peak
    assert summary["continued"][0] == {"trial_id": trials[0].trial_id, "from_epoch": peak,
                                       "to_epoch": continued["tuner/epochs"]}
    assert f"continued trial {trials[0].trial_id} from epoch {peak}" in out
    # no exploration: every trial trains the defaults
    assert all(tuned_values(t.hyperparameters) == tuned_values(trials[0].hyperparameters)
               for t in trials)
    assert result.results["wall_time_seconds"] < 60 + 15
    # the continuation left time to retrain: the final model averages it with the checkpoint
    assert summary["retrain_skipped"] is False and result.results["final_model"] == "averaged"
    assert "budget: continued" in (result.run_dir / "report.md").read_text()
    # the result's best hyperparameters are the user's, without Hyperband's bookkeeping
    assert result.best_hyperparameters.values == tuned_values(trials[-1].hyperparameters) \
        and not any(name.startswith("tuner/") for name in result.best_hyperparameters.values)


@pytest.mark.slow  # 19 s; continuing a trial: test_a_budget_too_short_for_a_round_...
def test_past_the_exploit_share_the_best_trial_continues_and_the_brackets_go_on(
        tmp_path, monkeypatch):
    from tfopt.tuning import budget as budget_module
    from tfopt.tuning import plan as plan_module

    # a round fits
    monkeypatch.setattr(plan_module, "probe", lambda *args, **kwargs: (0.5, 0.1, []))
    monkeypatch.setattr(budget_module, "EXPLOIT_AFTER", 0.0)  # due from the first trial on
    result = tfopt.search("digits", budget="20s", retrain=False, out=str(tmp_path / "r"),
                          verbose=0)
    summary = result.results["budget"]
    assert summary["searched"] is True
    trials = sorted(result.tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    first, second = trials[0], trials[1].hyperparameters.values
    # Hyperband's first trial trains 1 epoch; without the rule the next would be a new one
    assert first.hyperparameters.values["tuner/epochs"] == 1
    assert second["tuner/trial_id"] == first.trial_id
    assert second["tuner/initial_epoch"] == 1 and second["tuner/epochs"] > 1
    # the budget's continuation (Hyperband's own promotion is not recorded there); how many
    # epochs fit depends on how fast the machine trains the first trial's
    assert summary["continued"][0] == {"trial_id": first.trial_id, "from_epoch": 1,
                                       "to_epoch": second["tuner/epochs"]}
    assert len(summary["continued"]) <= 2  # once mid-way, at most once more at the end


@pytest.mark.slow  # 15 s; the command line's --plan: tests/test_cli.py
def test_plan_only_prints_and_returns_the_plan_without_writing(tmp_path, capsys):
    out = tmp_path / "never"
    plan = tfopt.search("digits", budget="10m", plan_only=True, out=str(out))
    assert not out.exists()
    assert plan["tuner"] == "hyperband" and plan["trials"] >= 6 and plan["epochs"] >= 11
    assert plan["setup_seconds"] > 0 and plan["epoch_seconds"] > 0
    assert plan["estimated_seconds"] >= plan["epochs"] * plan["epoch_seconds"]
    assert plan["text"] in capsys.readouterr().out
