"""HyperModels: empty hp builds the documented defaults, every choice builds."""

import inspect

import keras_tuner as kt
import pytest

from tfopt.hypermodels import HYPERMODELS, TextCNNHyperModel, VGGHyperModel
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
