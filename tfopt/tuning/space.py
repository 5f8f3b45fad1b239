"""Search-space overrides: narrow, widen, fix or add a family's hyperparameters.

A space file (`--space space.yaml`) or `--set name=value` items map hp names to
a range, a list of choices or one fixed value:

    learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}
    optimizer: [adam, adamw]
    dropout: 0.3

`apply_space` turns them into a `keras_tuner.HyperParameters` of pre-declared
hps. Pass it to the tuner as `hyperparameters=` with `tune_new_entries=True`:
when the HyperModel later declares `learning_rate`, the pre-declared one wins.
"""

import csv
import difflib
import json
import math
import pathlib

import yaml

from tfopt.errors import InputError
from tfopt.choices import unknown_name_message

__all__ = ["apply_space", "describe_space", "format_table", "load_space_file", "parse_set",
           "to_yaml"]

SAMPLINGS = ("linear", "log", "reverse_log")
RANGE_KEYS = ("default", "max", "min", "sampling", "step", "values")
EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false",
            "str": "a string (quote values that look like numbers, e.g. '3,4,5')"}
TYPES = {"Int": "int", "Float": "float", "Choice": "choice", "Boolean": "bool", "Fixed": "fixed"}
COLUMNS = ("name", "type", "range", "default")


def load_space_file(path):
    """Reads a space file: a mapping of hp names to ranges, lists or values.

    Args:
        path: a `.yaml`/`.yml` file (read with `yaml.safe_load`) or a `.json` file.

    Returns:
        The mapping, for `apply_space`.

    Raises:
        InputError: missing file, other suffix, syntax error, empty file or not a mapping.
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    expected = "expected a mapping of hyperparameter names to values, e.g. 'dropout: 0.3'"
    if not path.is_file():
        raise InputError(f"Space file '{path}' not found. Check the path.")
    if suffix not in (".yaml", ".yml", ".json"):
        raise InputError(f"Space file '{path}' has suffix '{suffix}'; expected .yaml, .yml or "
                         ".json. Rename or convert the file.")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise InputError(f"Space file '{path}' is empty; {expected}.")
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise InputError(f"Space file '{path}' is not valid JSON: {e.msg} at line {e.lineno}, "
                         f"column {e.colno}. Fix the syntax there.") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"Space file '{path}' is not valid YAML{where}: "
                         f"{getattr(e, 'problem', None) or e}. Fix the file there; only plain "
                         "YAML values are read (no !!python tags).") from None
    if not isinstance(data, dict):
        raise InputError(f"Space file '{path}' holds a {type(data).__name__}; {expected}.")
    return data


def parse_set(items):
    """Parses `--set` items into the mapping a space file holds.

    `lo..hi[:log|:linear|:reverse_log][:step=N]` is a range, `a,b` a list (quote
    items holding commas: `kernel_sizes='"3,4,5","2,3,4"'`), anything else one
    value. Values are read as int, float, bool (true/false), else str.

    Example: `parse_set(["blocks=1..3"]) == {"blocks": {"min": 1, "max": 3, "sampling": "linear"}}`.

    Raises:
        InputError: no `=`, an empty name or value, or an unknown suffix.
    """
    overrides = {}
    for item in items:
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not name or not value:
            raise InputError(f"Bad --set '{item}': expected name=value, e.g. dropout=0.3, "
                             "optimizer=adam,adamw or learning_rate=1e-4..1e-2:log.")
        overrides[name] = _parse_value(item, value)
    return overrides


def _parse_value(item, value):
    if ".." in value:
        bounds, *suffixes = value.split(":")
        low, _, high = (part.strip() for part in bounds.partition(".."))
        if not low or not high:
            raise InputError(f"Bad range in --set '{item}': expected lo..hi, e.g. blocks=1..3.")
        spec = {"min": _scalar(low), "max": _scalar(high)}
        for suffix in (s.strip() for s in suffixes):
            if suffix in SAMPLINGS:
                spec["sampling"] = suffix
            elif suffix.startswith("step=") and suffix[5:].strip():
                spec["step"] = _scalar(suffix[5:].strip())
            else:
                raise InputError(f"Bad suffix ':{suffix}' in --set '{item}': expected log, "
                                 "linear, reverse_log or step=N, e.g. dropout=0.1..0.5:step=0.1.")
        return spec
    parts = [part.strip() for part in next(csv.reader([value], skipinitialspace=True))]
    if not all(parts):
        raise InputError(f"Empty value in --set '{item}': expected a,b, e.g. optimizer=adam,adamw.")
    return _scalar(parts[0]) if len(parts) == 1 else [_scalar(part) for part in parts]


def _scalar(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def apply_space(overrides, base, *, addable=None):
    """Declares one hp per override, checked against the family's space `base`.

    Args:
        overrides: name -> `{min, max, sampling, step, default}` (Int or Float;
            sampling defaults to the family's), a list or `{values, default}` (Choice),
            or one value (Fixed).
        base: the family's full space, from `hypermodel.declare_hyperparameters(hp)`.
        addable: extra names the family accepts (factory kwargs not tuned by
            default) -> their default (bool, int, float or str), e.g. `{"flip": False}`.

    Returns:
        A new `keras_tuner.HyperParameters`. Defaults: an explicit `default`, else
        the base default when still valid, else `min` or the first value.

    Raises:
        InputError: unknown names or keys, wrong types, empty ranges or lists,
            bad sampling or step, or a default outside the new range.
    """
    import keras_tuner as kt  # TensorFlow loads only when a space is applied

    if not isinstance(overrides, dict):
        raise InputError(f"Expected a mapping of hyperparameter names to values; received "
                         f"{overrides!r}. Write e.g. {{'dropout': 0.3}}.")
    known = {p.name: (_kind(p), p.default, p.values[:2] if _is(p, "Choice") else [p.default],
                      getattr(p, "sampling", None) or "linear")
             for p in base.space}
    for name, default in (addable or {}).items():
        known.setdefault(name, (_kind(default), default, [default], "linear"))
    hp = kt.HyperParameters()
    for name, spec in overrides.items():
        if name not in known:
            raise InputError(unknown_name_message("hyperparameter", name, known))
        kind, base_default, examples, sampling = known[name]
        if isinstance(spec, dict) and "values" not in spec:
            _range(hp, name, spec, kind, base_default, examples, sampling)
        elif isinstance(spec, (dict, list, tuple)):
            spec = spec if isinstance(spec, dict) else {"values": spec}
            _choice(hp, name, spec, kind, base_default)
        else:
            hp.Fixed(name, _coerce(name, spec, kind, base_default))
    return hp


def _is(p, *classes):
    return type(p).__name__ in classes


def _kind(value):
    """'int', 'float', 'str' or 'bool' for a value or a declared hp."""
    if _is(value, "Choice", "Fixed"):
        return _kind(value.values[0])
    kind = {"Int": "int", "Float": "float", "Boolean": "bool"}.get(type(value).__name__,
                                                                    type(value).__name__)
    if kind not in EXPECTED:
        raise TypeError(f"Expected a bool, int, float or str default; received {value!r}.")
    return kind


def _did_you_mean(word, options):
    close = difflib.get_close_matches(str(word), options, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _choice(hp, name, spec, kind, base_default):
    extra = [key for key in spec if key not in ("values", "default")]
    if extra:
        hint = "" if extra[0] in RANGE_KEYS else _did_you_mean(extra[0], RANGE_KEYS)
        raise InputError(f"Key '{extra[0]}' does not go with values for '{name}': {spec}. Give "
                         "{values, default} or {min, max, sampling, step, default}." + hint)
    raw = spec["values"]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InputError(f"Empty or bad list for '{name}': received {raw!r}. Give at least one "
                         f"value, e.g. {name}: [{_fmt(base_default)}].")
    values = list(dict.fromkeys(_coerce(name, value, kind, base_default) for value in raw))
    shown = f"the choices {', '.join(_fmt(v) for v in values)}"
    default = _default(name, spec, values.__contains__, base_default, values[0], kind, shown)
    if kind == "bool":  # a Choice would store bools as ints
        return hp.Boolean(name, default=default) if len(values) == 2 else hp.Fixed(name, default)
    hp.Choice(name, values, default=default)


def _range(hp, name, spec, kind, base_default, examples, base_sampling):
    unknown = [key for key in spec if key not in RANGE_KEYS]
    if unknown:
        raise InputError(f"Unknown key '{unknown[0]}' for '{name}': {spec}. Expected keys: "
                         f"{', '.join(RANGE_KEYS)}.{_did_you_mean(unknown[0], RANGE_KEYS)}")
    if kind in ("str", "bool"):
        what = "true/false" if kind == "bool" else "a choice of strings"
        example = ", ".join(map(_fmt, examples)) if kind == "str" else "true, false"
        raise InputError(f"'{name}' is {what}, so a range does not apply; received {spec}. "
                         f"Give a list, e.g. {name}: [{example}].")
    if "min" not in spec or "max" not in spec:
        raise InputError(f"Range for '{name}' needs min and max; received {spec}. "
                         f"Write e.g. {name}: {{min: ..., max: ...}}.")
    low, high = (_coerce(name, spec[key], kind, base_default, key) for key in ("min", "max"))
    if low >= high:
        raise InputError(f"Empty range for '{name}': min {_fmt(low)} >= max {_fmt(high)}. Give "
                         f"min < max, or one value to fix it (e.g. {name}: {_fmt(low)}).")
    sampling = spec.get("sampling", base_sampling)
    if sampling not in SAMPLINGS:
        raise InputError(f"Unknown sampling {sampling!r} for '{name}'; expected one of "
                         f"{', '.join(SAMPLINGS)}.{_did_you_mean(sampling, SAMPLINGS)}")
    if sampling != "linear" and low <= 0:
        raise InputError(f"'{name}' has sampling {sampling} but min {_fmt(low)}; log scales need "
                         "min > 0. Raise min (e.g. 1e-6) or use sampling: linear.")
    step = spec.get("step")
    if step is not None:
        step = _coerce(name, step, kind, 2 if kind == "int" else 0.1, "step")
        floor = 0 if sampling == "linear" else 1
        if step <= floor:
            raise InputError(f"Bad step for '{name}': received {_fmt(step)}, expected a step > "
                             f"{floor}{f' (a factor, as sampling is {sampling})' if floor else ''}"
                             ". Fix the step or leave it out.")
    shown = f"the range {_fmt(low)} .. {_fmt(high)}"
    default = _default(name, spec, lambda v: low <= v <= high, base_default, low, kind, shown)
    declare = hp.Int if kind == "int" else hp.Float
    declare(name, low, high, step=step, sampling=sampling, default=default)


def _default(name, spec, inside, base_default, first, kind, shown):
    if "default" not in spec:
        return base_default if inside(base_default) else first
    default = _coerce(name, spec["default"], kind, first, "default")
    if not inside(default):
        raise InputError(f"Default {default!r} for '{name}' is not in {shown}. Pick a default "
                         "in it, or leave the default out.")
    return default


def _coerce(name, value, kind, example, what="value"):
    """`value` as `kind`: bools are no numbers; integral floats pass as ints."""
    raw = value
    if kind in ("int", "float") and isinstance(value, str):
        value = _scalar(value.strip())  # PyYAML reads `1e-4` (no dot) as a string
    number = isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)
    if number and (kind == "float" or (kind == "int" and float(value).is_integer())):
        return float(value) if kind == "float" else int(value)
    if kind in ("bool", "str") and isinstance(value, bool if kind == "bool" else str):
        return value
    raise InputError(f"Bad {what} for '{name}': received {raw!r}, expected {EXPECTED[kind]}, "
                     f"e.g. {name if what == 'value' else what}: {_fmt(example)}.")


def _fmt(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value and (abs(value) <= 0.01 or abs(value) >= 1e5):
            mantissa, exponent = f"{value:.6e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        text = f"{value:.6g}"
        return text if any(c in text for c in ".en") else text + ".0"
    return str(value)


def describe_space(hp):
    """One row per hp: `{"name", "type", "range", "default"}`, e.g. range "1e-4 .. 1e-2, log"."""
    rows = []
    for p in hp.space:
        if _is(p, "Int", "Float"):
            text = f"{_fmt(p.min_value)} .. {_fmt(p.max_value)}"
            text += f", {p.sampling}" if p.sampling != "linear" else ""
            if p.step is not None and not (_is(p, "Int") and p.step == 1):
                text += f", step {_fmt(p.step)}"
        else:
            text = ", ".join(_fmt(v) for v in p.values)
        rows.append({"name": p.name, "type": TYPES.get(type(p).__name__, "choice"),
                     "range": text, "default": p.default})
    return rows


def format_table(rows):
    """`describe_space` rows as an aligned plain-text table under a header line."""
    cells = [list(COLUMNS)] + [[_fmt(row[column]) for column in COLUMNS] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in cells)


def to_yaml(hp):
    """A YAML space file that declares `hp` as it is: a starting point to edit."""
    space = {}
    for p in hp.space:
        if _is(p, "Int", "Float"):
            step = {} if p.step is None else {"step": p.step}
            space[p.name] = {"min": p.min_value, "max": p.max_value, "sampling": p.sampling,
                             **step, "default": p.default}
        else:
            space[p.name] = p.value if _is(p, "Fixed") else list(p.values)
    return yaml.safe_dump(space, sort_keys=False)
