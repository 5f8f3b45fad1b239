"""HyperModels: empty hp builds the documented defaults, every choice builds."""

import inspect

import keras_tuner as kt
import numpy as np
import pytest

from tfopt.tuning.hypermodels import HYPERMODELS, TextCNNHyperModel, VGGHyperModel
from tfopt.models import build_textcnn, build_transformer, build_vgg


def make(family):
    if family == "vgg":
        return VGGHyperModel((8, 8, 1), 3)
    return HYPERMODELS[family]((12,), 2, vocab_size=50)


FACTORIES = {"vgg": build_vgg, "textcnn": build_textcnn, "transformer": build_transformer}


@pytest.mark.parametrize("family", HYPERMODELS)
def test_every_hp_defaults_to_the_factory_default(family):
    hp = kt.HyperParameters()
    hypermodel = make(family)
    hypermodel.declare_hyperparameters(hp)
    defaults = {name: p.default for name, p in inspect.signature(FACTORIES[family]).parameters.items()
                if p.kind is p.KEYWORD_ONLY and name != "flip"}
    assert set(defaults) <= set(hp.values)
    for name, default in defaults.items():
        value = hp.values[name]
        if name == "kernel_sizes":
            value = tuple(int(k) for k in value.split(","))
        assert value == default, name
    assert hp.values["optimizer"] == "adam"
    assert hp.values["learning_rate"] == hypermodel.learning_rates[2]
    assert hp.values["batch_size"] == hypermodel.default_batch_size


def test_empty_hyperparameters_build_the_compiled_baseline():
    model = VGGHyperModel((8, 8, 1), 3).build(kt.HyperParameters())
    baseline = build_vgg((8, 8, 1), 3)
    assert model.count_params() == baseline.count_params()
    assert model.optimizer.name == "adam"
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


@pytest.mark.parametrize("family", HYPERMODELS)
def test_every_choice_builds(family):
    hypermodel = make(family)
    space = kt.HyperParameters()
    hypermodel.declare_hyperparameters(space)
    built = 0
    for hp_def in space.space:
        values = getattr(hp_def, "values", None) or [hp_def.min_value, hp_def.max_value]
        for value in values:
            hp = kt.HyperParameters()
            hp.values[hp_def.name] = value
            hypermodel.declare_hyperparameters(hp)
            hp.values[hp_def.name] = value
            model = hypermodel.build(hp)
            assert model.output_shape[-1] == hypermodel.num_classes
            built += 1
    assert built >= 2 * len(space.space)


def test_kernel_sizes_choice_sets_the_branches():
    hp = kt.HyperParameters()
    hp.Fixed("kernel_sizes", "2,3,4")
    model = TextCNNHyperModel((12,), 2, vocab_size=50).build(hp)
    assert {layer.name for layer in model.layers if layer.name.startswith("conv")} == {
        "conv2", "conv3", "conv4"}


def test_a_custom_build_gets_the_data_shape_and_is_compiled_when_it_is_not():
    import keras

    from tfopt.tuning.hypermodels import CustomHyperModel

    def tiny(hp, input_shape, num_classes):
        return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                 keras.layers.Dense(hp.Int("units", 4, 8, default=4)),
                                 keras.layers.Dense(num_classes, activation="softmax")])

    hypermodel = CustomHyperModel(tiny, (8, 8, 1), 3, balanced=True)
    assert hypermodel.name == "tiny"
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert model.output_shape == (None, 3) and model.compiled
    assert hp.values == {"units": 4} and hypermodel.batch_size(hp) == 128
    import numpy as np

    history = model.fit(np.random.rand(6, 8, 8, 1), np.arange(6) % 3, epochs=1, verbose=0)
    assert {"accuracy", "balanced_accuracy", "loss"} == set(history.history)


def test_a_custom_build_must_return_a_model():
    from tfopt.errors import InputError
    from tfopt.tuning.hypermodels import CustomHyperModel

    with pytest.raises(InputError, match="must return a keras.Model. Received: dict"):
        CustomHyperModel(lambda hp: {}, (8, 8, 1), 3).build(kt.HyperParameters())
    with pytest.raises(InputError, match="a build\\(hp\\) function or a keras_tuner.HyperModel"):
        CustomHyperModel(42, (8, 8, 1), 3)


def test_a_space_may_add_vgg_flips():
    from tfopt.tuning.hypermodels import base_space

    hp, addable = base_space("vgg")
    assert addable == {"flip": False} and "flip" not in hp.values
    model = VGGHyperModel((8, 8, 1), 3).build_model(kt.HyperParameters())
    assert "augmentation" not in [layer.name for layer in model.layers]
    flips = kt.HyperParameters()
    flips.Fixed("flip", True)
    flips.Fixed("augment", 0.1)
    layers = VGGHyperModel((8, 8, 1), 3).build_model(flips).get_layer("augmentation").layers
    assert any("Flip" in type(layer).__name__ for layer in layers)


def test_a_custom_hypermodels_own_fit_gets_batched_data_and_class_weights(tiny_images):
    import keras

    from tfopt.data.pipeline import to_dataset
    from tfopt.tuning.hypermodels import CustomHyperModel

    class Mine(kt.HyperModel):
        def build(self, hp):
            return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                     keras.layers.Dense(3, activation="softmax")])

        def fit(self, hp, model, x, *args, **kwargs):
            self.seen = (next(iter(x))[0].shape, kwargs.get("class_weight"))
            return model.fit(x, *args, **kwargs)

    user = Mine()
    hypermodel = CustomHyperModel(user, (8, 8, 1), 3, class_weight={0: 1.0, 1: 2.0, 2: 1.0})
    hp = kt.HyperParameters()
    hp.Fixed("batch_size", 16)
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, to_dataset(tiny_images.x_train, tiny_images.y_train, "image"),
                   epochs=1, verbose=0)
    assert hypermodel.name == "Mine"
    assert tuple(user.seen[0]) == (16, 8, 8, 1) and user.seen[1] == {0: 1.0, 1: 2.0, 2: 1.0}


def test_the_last_smaller_batch_is_dropped_only_on_jax(monkeypatch):
    import keras

    from tfopt.data.pipeline import ArrayDataset
    from tfopt.tuning.hypermodels import drop_last_batch

    data = ArrayDataset(np.zeros((300, 2)), np.zeros(300))
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert drop_last_batch(data, 128) and not drop_last_batch(data, 100)
    assert not drop_last_batch(data, 512)  # never every batch
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    assert not drop_last_batch(data, 128)


def test_a_tasks_defaults_replace_the_familys_and_stay_in_its_space():
    from tfopt.data.tasks import TASKS

    for task in TASKS.values():
        hp = kt.HyperParameters()
        hypermodel = HYPERMODELS[task.default_model](
            (28, 28, 1) if task.modality == "image" else (12,), 2,
            **({} if task.modality == "image" else {"vocab_size": 50}),
            defaults=dict(task.defaults))
        hypermodel.declare_hyperparameters(hp)  # keras-tuner rejects a default outside the space
        assert {name: hp.values[name] for name, _ in task.defaults} == dict(task.defaults)
    fashion = dict(TASKS["fashion_mnist"].defaults)
    hp, hypermodel = kt.HyperParameters(), VGGHyperModel((28, 28, 1), 10, defaults=fashion)
    hypermodel.declare_hyperparameters(hp)
    model = hypermodel.build(hp)
    assert hp.values["blocks"] == 2 and hp.values["filters"] == 16
    assert hp.values["batch_size"] == 64 and hp.values["convs_per_block"] == 1  # the family's
    assert [layer.name for layer in model.layers if "conv" in layer.name] == [
        "block1_conv1", "block2_conv1"]
    assert model.get_layer("block2_conv1").filters == 32  # doubled from block to block


@pytest.mark.parametrize("train_size, family, expected", [
    (None, VGGHyperModel, 128), (54_000, VGGHyperModel, 128), (8_192, VGGHyperModel, 128),
    (8_191, VGGHyperModel, 64), (2_160, VGGHyperModel, 32), (300, VGGHyperModel, 32),
    (8_600, TextCNNHyperModel, 50), (2_000, TextCNNHyperModel, 32)])
def test_small_data_gets_a_smaller_default_batch(train_size, family, expected):
    kwargs = {"vocab_size": 50} if family is TextCNNHyperModel else {}
    shape = (12,) if family is TextCNNHyperModel else (8, 8, 1)
    hypermodel = family(shape, 2, train_size=train_size, **kwargs)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert hp.values["batch_size"] == expected
    task = family(shape, 2, train_size=300, defaults={"batch_size": 64}, **kwargs)
    hp = kt.HyperParameters()
    task.declare_hyperparameters(hp)
    assert hp.values["batch_size"] == 64  # a task's own default stays
