"""The printed plan: the timing probe and its wording."""

import math

import pytest

from tfopt.data.pipeline import to_dataset
from tfopt.tuning.hypermodels import VGGHyperModel
from tfopt.tuning.model_cost import multiply_adds
from tfopt.models import build_vgg
from tfopt.tuning.plan import describe, probe


def test_probe_times_default_and_sampled_models_even_on_one_batch(tiny_images):
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    for size, samples in ((50, 2), (192, 1)):  # one batch of 128, then two
        train = to_dataset(tiny_images.x_train[:size], tiny_images.y_train[:size], "image")
        setup, epoch_seconds, timings = probe(hypermodel, train, size, samples=samples)
        assert setup > 0 and math.isfinite(setup)
        assert epoch_seconds >= 0 and math.isfinite(epoch_seconds)
        assert len(timings) == 1 + samples  # the default and the samples
        assert timings[0][0] == multiply_adds(build_vgg((8, 8, 1), 3))  # the defaults' cost
        assert epoch_seconds == pytest.approx(sum(epoch for _, epoch in timings) / (1 + samples))


def test_probe_trains_the_rest_of_its_steps_only_while_they_are_quick(tiny_images):
    import keras_tuner as kt

    from tfopt.tuning.plan import _time_one

    train = to_dataset(tiny_images.x_train[:160], tiny_images.y_train[:160], "image")
    for seconds, batches in ((0.0, 4), (1e9, 10)):  # 4: the traced batch and 3 timed ones
        hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
        hp = kt.HyperParameters()
        hp.Fixed("batch_size", 16)
        built = []
        build = hypermodel.build
        hypermodel.build = lambda hp: built.append(build(hp)) or built[-1]
        setup, epoch_seconds, _ = _time_one(hypermodel, hp, train, 160, 10, seconds)
        assert int(built[0].optimizer.iterations.numpy()) == batches
        assert setup > 0 and epoch_seconds > 0


def test_probe_times_a_large_batch_on_smaller_ones_and_scales_to_its_own(tiny_images,
                                                                       monkeypatch):
    import keras_tuner as kt

    from tfopt.tuning import plan

    train = to_dataset(tiny_images.x_train[:160], tiny_images.y_train[:160], "image")
    timed = []
    batched = plan.batched
    monkeypatch.setattr(plan, "batched", lambda data, size: timed.append(size) or
                        batched(data, size))
    monkeypatch.setattr(plan.StepClock, "between_batches", lambda self: [0.1, 0.1, 0.1])
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    hp = kt.HyperParameters()
    hp.Fixed("batch_size", 64)
    for batch, timed_batch in ((8, 8), (None, 64), (128, 64)):
        timed.clear()
        _, epoch_seconds, _ = plan._time_one(hypermodel, hp, train, 160, 4, 0.0, batch=batch)
        assert timed == [timed_batch]
        # 0.1 s a step of `timed_batch`, so 0.1 * 64 / timed_batch s a batch of 64; 3 batches
        assert epoch_seconds == pytest.approx(1.1 * 0.1 * 64 / timed_batch * 3)


def test_the_probe_caps_the_timed_batch_of_samples_on_cpu_only(tiny_images, monkeypatch):
    from tfopt.tuning import plan

    seen = []
    monkeypatch.setattr(plan, "_time_one", lambda *args, batch, **kwargs:
                        seen.append(batch) or (1.0, 2.0, 100))
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    train = to_dataset(tiny_images.x_train, tiny_images.y_train, "image")
    assert probe(hypermodel, train, 192, samples=1) == (1.0, 2.0, [(100, 2.0)] * 2)
    monkeypatch.setattr(plan, "gpu_count", lambda: 1)
    probe(hypermodel, train, 192, samples=1)
    # the defaults at their own batch everywhere (a budget too short to search trains them)
    assert seen == [None, plan.CPU_PROBE_BATCH] + [None] * 2


def test_describe_states_trials_epochs_and_time():
    text = describe("hyperband", 13, 21, setup=2.0, epoch_seconds=20.0)
    assert text.startswith("plan: hyperband, up to 13 trials, 21 epochs in all")
    assert "a typical model takes 2.0 s to build and 20.0 s an epoch, so about 7 min" in text  # (13 * 2 + 21 * 20) / 60 = 7.4
    assert "about 46 s" in describe("random", 2, 2, setup=3.0, epoch_seconds=20.0)
    with_final = describe("hyperband", 13, 21, setup=2.0, epoch_seconds=20.0, retrain_epochs=10)
    assert ("then retraining on train+validation (at most 10 epochs, about 3 min): about 11 min "
            "in all") in with_final
    cv = describe("random", 1, 4, setup=1.5, epoch_seconds=30.0, folds=(10, 0.9))
    assert cv.startswith("plan: random, up to 1 trial of 10 cross-validation folds each "
                         "(training 10 times a trial), 40 epochs in all")
    assert "so about 18 min" in cv  # 10 * (1.5 + 4 * 0.9 * 30) / 60 = 18.3


def test_retrain_epochs_count_every_retrain_on_the_bigger_split():
    from tfopt.config import SearchConfig
    from tfopt.tuning.budget import retrain_epochs

    config = SearchConfig(epochs=9, seeds=2, ensemble=3)
    assert retrain_epochs(config, 60 / 54) == pytest.approx(4 * 9 * 60 / 54)
    assert retrain_epochs(SearchConfig(epochs=9, retrain=False), 60 / 54) == 0


def test_describe_states_the_budget_rule():
    text = describe("hyperband", 13, 21, setup=2.0, epoch_seconds=20.0, retrain_epochs=10,
                    budget=600)
    assert text.endswith("Budget 10 min: no trial is started that would not end in time; from "
                         "half the budget on, and with the time left over, the best trial "
                         "continues while it improves; time to retrain the best trial is kept "
                         "aside.")
    short = describe("hyperband", 6, 11, setup=2.0, epoch_seconds=100.0, budget=300, repeat=True,
                     explore=False)
    assert short.endswith("Budget 5 min: one round would take more than 50% of it, so the "
                          "default configuration trains instead (its learning rate annealed, "
                          "where the space has the cosine schedule) over the epochs that leave "
                          "time to retrain it on train+validation for as many.")
    alone = describe("hyperband", 6, 11, setup=2.0, epoch_seconds=100.0, budget=300, repeat=True,
                     explore=False, retrain=False)
    assert alone.endswith("cosine schedule) over the epochs until the deadline.")
    costly = describe("hyperband", 6, 11, setup=2.0, epoch_seconds=100.0, budget=600,
                      repeat=True)
    assert costly.endswith("; retraining would take more than 25% of the budget by the probe, "
                           "so no time is kept for it unless the best trial turns out faster (it "
                           "retrains if the search leaves time; otherwise the final model is the "
                           "best trial's checkpoint).")
    random = describe("random", 5, 10, setup=2.0, epoch_seconds=2.0, budget=300, retrain=False)
    assert random.endswith("no trial is started that would not end in time.")
    repeated = describe("hyperband", 6, 11, setup=2.0, epoch_seconds=20.0, budget=300,
                        repeat=True)
    assert repeated.startswith("plan: hyperband, one round of its brackets: 6 trials")
    assert "Budget 5 min: the brackets repeat until it is spent; no trial" in repeated


@pytest.mark.parametrize("budget, expected", [(10_000, 27), (2_000, 9), (500, 3), (10, 3)])
def test_epochs_for_budget_picks_the_largest_hyperband_schedule_that_fits(budget, expected):
    from tfopt.config import SearchConfig
    from tfopt.tuning.budget import epochs_for_budget, estimated_seconds
    from tfopt.tuning.tuners import make_oracle, plan

    config = SearchConfig(epochs=27, budget=budget, retrain=False)
    assert epochs_for_budget(config, setup=2.0, epoch_seconds=10.0, train_val_ratio=1.1) == expected
    # one round of the brackets of max_epochs 27, 9 and 3 (uncapped), 2 s + 10 s an epoch,
    # against half the budget (SEARCH_SHARE)
    seconds = {e: estimated_seconds(*plan(make_oracle("hyperband", "val_accuracy", epochs=e), e),
                                    2.0, 10.0) for e in (27, 9, 3)}
    assert seconds[27] > 1_000 >= seconds[9] > 250 >= seconds[3] > 5


def test_probe_configurations_are_the_defaults_then_samples_of_the_space(tiny_images):
    from tfopt.tuning.plan import _probe_configurations

    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    default, *sampled = _probe_configurations(hypermodel, 3, seed=0)
    assert default.values == {p.name: p.default for p in default.space}
    assert len(sampled) == 3 and sampled[0].values != sampled[1].values
    for hp in sampled:
        assert set(hp.values) == {p.name for p in hp.space} >= {"blocks", "batch_size"}
        assert hp.values["filters"] in (16, 32) and 1 <= hp.values["blocks"] <= 3


def test_probe_configurations_keep_the_users_space(tiny_images):
    import keras_tuner as kt

    from tfopt.tuning.plan import _probe_configurations

    space = kt.HyperParameters()
    space.Fixed("blocks", 1)
    space.Choice("batch_size", [16])
    hypermodel = VGGHyperModel(tiny_images.input_shape, tiny_images.num_classes)
    configurations = _probe_configurations(hypermodel, 3, seed=0, space=space)
    assert [(hp.values["blocks"], hp.values["batch_size"]) for hp in configurations] == [
        (1, 16)] * 4
    assert len({hp.values["learning_rate"] for hp in configurations}) > 1
