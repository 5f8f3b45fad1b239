"""Search-space overrides: files, --set items, validation and the round trip per family."""

import json
import re

import keras_tuner as kt
import pytest
import yaml

from tfopt.errors import InputError
from tfopt.tuning.hypermodels import HYPERMODELS
from tfopt.tuning.space import (apply_space, describe_space, format_table, load_space_file, parse_set,
                         to_yaml)


def family(name):
    if name == "vgg":
        return HYPERMODELS["vgg"]((8, 8, 1), 3)
    return HYPERMODELS[name]((12,), 2, vocab_size=50)


def base_space(name="vgg"):
    hp = kt.HyperParameters()
    family(name).declare_hyperparameters(hp)
    return hp


def declared(hp):
    return {p.name: p for p in hp.space}


# --- space files -------------------------------------------------------------------------

def test_load_yaml_and_json_files(tmp_path):
    expected = {"learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
                "optimizer": ["adam", "adamw"], "dropout": 0.3}
    (tmp_path / "space.yaml").write_text(
        "# narrow the rate, two optimizers, fixed dropout\n"
        "learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}\n"
        "optimizer: [adam, adamw]\n"
        "dropout: 0.3\n")
    (tmp_path / "space.json").write_text(json.dumps(expected))
    assert load_space_file(tmp_path / "space.yaml") == expected
    assert load_space_file(str(tmp_path / "space.json")) == expected


def test_yaml_exponent_without_dot_still_reads_as_a_number(tmp_path):
    # PyYAML reads `1e-4` as a string; apply_space accepts numeric strings for numeric hps.
    (tmp_path / "space.yml").write_text("learning_rate: {min: 1e-4, max: 1e-3, sampling: log}\n")
    hp = apply_space(load_space_file(tmp_path / "space.yml"), base_space())
    assert (hp.space[0].min_value, hp.space[0].max_value) == (1e-4, 1e-3)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("dropout: 0.3\nl2: 1.0e-4\n  blocks: 2\n")
    with pytest.raises(InputError, match=r"not valid YAML at line 3, column \d+: mapping values"):
        load_space_file(path)


def test_yaml_python_tags_are_rejected_not_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "space.yaml"
    path.write_text(f"x: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(InputError, match=r"line 1.*python/object/apply:os.system.*no !!python"):
        load_space_file(path)
    assert not marker.exists()


@pytest.mark.parametrize("name, text, message", [
    ("nope.yaml", None, r"Space file '.*nope.yaml' not found"),
    ("space.txt", "dropout: 0.3", r"suffix '.txt'; expected .yaml, .yml or .json"),
    ("space.yaml", "\n  \n", r"is empty; expected a mapping .* 'dropout: 0.3'"),
    ("space.yaml", "- dropout\n- l2\n", r"holds a list; expected a mapping"),
    ("space.json", '{"dropout": 0.3,\n "l2": }', r"not valid JSON: Expecting value at line 2"),
])
def test_bad_space_files(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        load_space_file(tmp_path / name)


# --- --set items --------------------------------------------------------------------------

def test_parse_set_forms():
    assert parse_set(["learning_rate=1e-4..1e-2:log", "optimizer=adam,adamw", "dropout=0.3",
                      "blocks=1..3", "l2=1e-6..1e-3:log", "augment=true", "name=x",
                      'kernel_sizes="3,4,5","2,3,4"', "lr2 = 1e-5..1e-3:reverse_log:step=2"]) == {
        "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
        "optimizer": ["adam", "adamw"], "dropout": 0.3,
        "blocks": {"min": 1, "max": 3},
        "l2": {"min": 1e-6, "max": 1e-3, "sampling": "log"}, "augment": True, "name": "x",
        "kernel_sizes": ["3,4,5", "2,3,4"],
        "lr2": {"min": 1e-5, "max": 1e-3, "sampling": "reverse_log", "step": 2}}
    step = parse_set(["dropout=0.1..0.5:step=0.1"])["dropout"]
    assert step == {"min": 0.1, "max": 0.5, "step": 0.1}
    assert isinstance(parse_set(["blocks=2"])["blocks"], int)
    assert parse_set(["flip=False", "dropout=0.3", "dropout=0.2"]) == {"flip": False, "dropout": 0.2}


@pytest.mark.parametrize("item, message", [
    ("dropout", r"Bad --set 'dropout': expected name=value, e.g. dropout=0.3"),
    ("=0.3", r"expected name=value"),
    ("dropout=", r"expected name=value"),
    ("learning_rate=1e-4..1e-2:lg", r"Bad suffix ':lg'.*expected log, linear, reverse_log or step=N"),
    ("dropout=0.1..0.5:step=", r"Bad suffix ':step='"),
    ("blocks=1..", r"Bad range .*expected lo..hi"),
    ("optimizer=adam,,sgd", r"Empty value in --set 'optimizer=adam,,sgd'"),
])
def test_parse_set_errors(item, message):
    with pytest.raises(InputError, match=message):
        parse_set([item])


# --- apply_space --------------------------------------------------------------------------

def test_narrowing_ranges_keeps_valid_base_defaults():
    hp = apply_space({"learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
                      "blocks": {"min": 2, "max": 3},
                      "dropout": {"min": 0.0, "max": 0.2, "step": 0.05},
                      "l2": {"min": 1e-5, "max": 1e-3, "sampling": "log", "default": 1e-5}},
                     base_space())
    lr, blocks, dropout, l2 = hp.space
    assert isinstance(lr, kt.engine.hyperparameters.Float)
    assert (lr.min_value, lr.max_value, lr.sampling, lr.step, lr.default) == (
        1e-4, 3e-3, "log", None, 1e-3)
    assert isinstance(blocks, kt.engine.hyperparameters.Int)
    assert (blocks.min_value, blocks.max_value, blocks.step, blocks.default) == (2, 3, 1, 2)
    # base default 0.3 left the range: the default falls back to min
    assert (dropout.max_value, dropout.step, dropout.sampling, dropout.default) == (
        0.2, 0.05, "linear", 0.0)
    assert l2.default == 1e-5  # an explicit default wins


def test_widening_choices_and_ranges_over_choices():
    hp = apply_space({"filters": [8, 16.0, 64], "optimizer": ["adamw", "nadam"],
                      "dense_units": {"min": 32, "max": 512, "step": 32, "sampling": "linear"},
                      "batch_size": {"values": [32, 512], "default": 512}}, base_space())
    p = declared(hp)
    assert isinstance(p["filters"], kt.engine.hyperparameters.Choice)
    assert p["filters"].values == [8, 16, 64] and p["filters"].default == 8  # 32 was dropped
    assert all(type(v) is int for v in p["filters"].values)
    assert p["optimizer"].values == ["adamw", "nadam"] and p["optimizer"].default == "adamw"
    assert isinstance(p["dense_units"], kt.engine.hyperparameters.Int)  # base was a Choice of ints
    assert (p["dense_units"].max_value, p["dense_units"].step, p["dense_units"].default) == (
        512, 32, 128)
    assert p["batch_size"].values == [32, 512] and p["batch_size"].default == 512


def test_float_choice_base_accepts_numbers_and_ranges():
    base = base_space("textcnn")  # l2 is a Choice of floats
    listed = declared(apply_space({"l2": [0, 1e-4]}, base))["l2"]
    assert listed.values == [0.0, 1e-4] and all(type(v) is float for v in listed.values)
    ranged = declared(apply_space({"l2": {"min": 1e-6, "max": 1e-3, "sampling": "log"}}, base))["l2"]
    assert isinstance(ranged, kt.engine.hyperparameters.Float) and ranged.default == 1e-6


def test_fixing_values():
    p = declared(apply_space({"dropout": 0, "blocks": 2.0, "optimizer": "sgd"}, base_space()))
    assert all(isinstance(h, kt.engine.hyperparameters.Fixed) for h in p.values())
    assert (p["dropout"].value, p["blocks"].value, p["optimizer"].value) == (0.0, 2, "sgd")
    assert type(p["dropout"].value) is float and type(p["blocks"].value) is int


def test_adding_a_factory_kwarg_with_its_type():
    addable = {"flip": False, "width": 4}
    p = declared(apply_space({"flip": True}, base_space(), addable=addable))
    assert isinstance(p["flip"], kt.engine.hyperparameters.Fixed) and p["flip"].value is True
    p = declared(apply_space({"flip": [True, False], "width": {"min": 2, "max": 8}},
                             base_space(), addable=addable))
    assert isinstance(p["flip"], kt.engine.hyperparameters.Boolean) and p["flip"].default is False
    assert isinstance(p["width"], kt.engine.hyperparameters.Int) and p["width"].default == 4
    with pytest.raises(InputError, match=r"Bad value for 'flip': received 1, expected true or false"):
        apply_space({"flip": 1}, base_space(), addable=addable)


def test_the_family_uses_the_overridden_space():
    hp = apply_space({"dropout": 0.3, "learning_rate": {"min": 1e-5, "max": 3e-3, "sampling": "log"},
                      "optimizer": ["adamw"]}, base_space())
    used = hp.copy()
    family("vgg").declare_hyperparameters(used)  # what build() does under tune_new_entries
    p = declared(used)
    assert used.values["dropout"] == 0.3
    assert isinstance(p["dropout"], kt.engine.hyperparameters.Fixed)
    assert (p["learning_rate"].min_value, p["learning_rate"].max_value) == (1e-5, 3e-3)
    assert p["optimizer"].values == ["adamw"] and used.values["optimizer"] == "adamw"
    assert used.values["blocks"] == 2 and p["blocks"].max_value == 3  # untouched: the family's own
    assert len(used.space) == len(base_space().space)


VALID = ("augment, batch_size, blocks, convs_per_block, dense_units, dropout, filters, flip, "
         "l2, learning_rate, lr_schedule, optimizer")


@pytest.mark.parametrize("overrides, message", [
    ({"lerning_rate": 1e-3}, "Unknown hyperparameter 'lerning_rate'. Known hyperparameters: "
     f"{VALID}. Did you mean 'learning_rate'?"),
    ({"dropout": {"mn": 0.1, "max": 0.5}}, "Unknown key 'mn' for 'dropout': {'mn': 0.1, 'max': 0.5}. "
     "Expected keys: default, max, min, sampling, step, values. Did you mean 'min'?"),
    ({"dropout": {"min": 0.1}}, "Range for 'dropout' needs min and max"),
    ({"dropout": {"min": 0.5, "max": 0.1}}, "Empty range for 'dropout': min 0.5 >= max 0.1"),
    ({"blocks": {"min": 2, "max": 2}}, "Empty range for 'blocks': min 2 >= max 2"),
    ({"optimizer": []}, "Empty or bad list for 'optimizer': received []. Give at least one value"),
    ({"l2": {"min": 0, "max": 1e-3, "sampling": "log"}},
     "'l2' has sampling log but min 0.0; log scales need min > 0"),
    ({"learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "lg"}},
     "Unknown sampling 'lg' for 'learning_rate'; expected one of linear, log, reverse_log. "
     "Did you mean 'log'?"),
    ({"dropout": {"min": 0.0, "max": 0.5, "step": 0}}, "Bad step for 'dropout': received 0.0, "
     "expected a step > 0"),
    ({"l2": {"min": 1e-6, "max": 1e-3, "sampling": "log", "step": 0.5}}, "expected a step > 1 "
     "(a factor, as sampling is log)"),
    ({"dropout": {"min": 0.0, "max": 0.5, "default": 0.9}},
     "Default 0.9 for 'dropout' is not in the range 0.0 .. 0.5"),
    ({"optimizer": {"values": ["adam"], "default": "sgd"}},
     "Default 'sgd' for 'optimizer' is not in the choices adam"),
    ({"optimizer": {"values": ["adam"], "min": 1}}, "Key 'min' does not go with values"),
    ({"dropout": "high"}, "Bad value for 'dropout': received 'high', expected a number, "
     "e.g. dropout: 0.3."),
    ({"blocks": 1.5}, "Bad value for 'blocks': received 1.5, expected a whole number, e.g. blocks: 2."),
    ({"blocks": {"min": 1, "max": 3.5}}, "Bad max for 'blocks': received 3.5, expected a whole number"),
    ({"batch_size": [32, "big"]}, "Bad value for 'batch_size': received 'big', expected a whole number"),
    ({"blocks": True}, "Bad value for 'blocks': received True, expected a whole number"),
    ({"dropout": [0.1, False]}, "Bad value for 'dropout': received False, expected a number"),
    ({"optimizer": 3}, "Bad value for 'optimizer': received 3, expected a string"),
    ({"dropout": None}, "Bad value for 'dropout': received None"),
    ({"optimizer": {"min": 1, "max": 2}}, "'optimizer' is a choice of strings, so a range does not "
     "apply; received {'min': 1, 'max': 2}. Give a list, e.g. optimizer: [adam, adamw]."),
    ({"flip": {"min": 0, "max": 1}}, "'flip' is true/false, so a range does not apply"),
])
def test_validation_errors(overrides, message):
    with pytest.raises(InputError) as error:
        apply_space(overrides, base_space(), addable={"flip": False})
    assert message in str(error.value)


def test_overrides_must_be_a_mapping():
    with pytest.raises(InputError, match=r"Expected a mapping .* received \['dropout'\]"):
        apply_space(["dropout"], base_space())


# --- describe, table, YAML round trip -----------------------------------------------------

def test_describe_space_rows_and_table():
    rows = {row["name"]: row for row in describe_space(base_space())}
    assert rows["learning_rate"] == {"name": "learning_rate", "type": "float",
                                     "range": "1e-4 .. 1e-2, log", "default": 1e-3}
    assert rows["dropout"]["range"] == "0.0 .. 0.5, step 0.1"
    assert rows["blocks"] == {"name": "blocks", "type": "int", "range": "1 .. 3", "default": 2}
    assert rows["filters"] == {"name": "filters", "type": "choice", "range": "16, 32", "default": 32}
    fixed = describe_space(apply_space({"dropout": 0.3, "flip": [True, False]}, base_space(),
                                       addable={"flip": False}))
    assert fixed == [{"name": "dropout", "type": "fixed", "range": "0.3", "default": 0.3},
                     {"name": "flip", "type": "bool", "range": "true, false", "default": False}]
    lines = format_table(describe_space(base_space())).splitlines()
    assert lines[0].split() == ["name", "type", "range", "default"]
    assert lines[9].split() == ["learning_rate", "float", "1e-4", "..", "1e-2,", "log", "1e-3"]
    assert len({re.match(r"\S+\s+", line).end() for line in lines}) == 1  # aligned columns
    assert len(lines) == 1 + len(base_space().space)


@pytest.mark.parametrize("name", ["vgg", "textcnn", "transformer"])
def test_to_yaml_round_trips(name):
    base = base_space(name)
    text = to_yaml(base)
    assert "learning_rate:" in text and "sampling: log" in text
    again = apply_space(yaml.safe_load(text), base)
    assert [p.get_config() for p in again.space] == [p.get_config() for p in base.space]
    assert [type(p) for p in again.space] == [type(p) for p in base.space]
    assert again.values == base.values


def test_a_range_keeps_the_familys_sampling_unless_given():
    base = base_space("vgg")
    hp = apply_space({"learning_rate": {"min": 1e-4, "max": 1e-3},
                      "dropout": {"min": 0.1, "max": 0.4}}, base)
    assert hp.space[0].sampling == "log" and hp.space[1].sampling == "linear"
    linear = apply_space({"learning_rate": {"min": 1e-4, "max": 1e-3, "sampling": "linear"}},
                         base)
    assert linear.space[0].sampling == "linear"
