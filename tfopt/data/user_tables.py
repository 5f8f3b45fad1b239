"""Texts and arrays for `load_user_data`: CSV/TSV/JSONL tables, .txt files, .npz arrays."""

import csv
import difflib
import json
import math
import zipfile
import zlib

import numpy as np

from tfopt.errors import InputError

LABEL_NAMES = ("label", "labels", "class", "target", "sentiment", "category", "y", "polarity")
TEXT_NAMES = ("text", "review", "sentence", "content", "body", "document", "comment", "x")
SPLIT_VALUES = {"train": "train", "val": "val", "validation": "val", "test": "test"}
SHOWN = 5  # row numbers shown in one message


def read_table(path, *, text_column, label_column, skip_bad, notes):
    """Texts and labels of a .csv/.tsv/.jsonl file by part ("all", or train/val/test).

    Returns:
        ({part: (texts, labels)}, label column): texts a str array, labels an
        int array when every label is a whole number, else a str array.
    """
    jsonl = path.suffix.lower() == ".jsonl"
    unit = "line" if jsonl else "row"
    columns, rows, bad = _read_jsonl(path) if jsonl else _read_csv(path, notes)
    if not rows:
        _report_bad(path, bad, unit, False, notes)
        raise InputError(f"'{path}' has no data {unit}s. Expected " + (
            "one JSON object per line, e.g. {\"text\": \"...\", \"label\": \"...\"}." if jsonl else
            "a header line with column names, then one row per example."))
    text, label = _pick_columns(path, columns, rows, text_column, label_column, notes)
    split = next((c for c in columns if c.lower() == "split" and c not in (text, label)), None)
    parts, odd_splits = {}, []
    for number, row in rows:
        x, y = row.get(text) or "", (row.get(label) or "").strip()
        if not x.strip() or not y:
            bad.setdefault(f"with an empty text ('{text}') or label ('{label}')", []).append(number)
            continue
        part = SPLIT_VALUES.get((row.get(split) or "").strip().lower()) if split else "all"
        if part is None:
            odd_splits.append((number, row.get(split)))
            continue
        texts, labels = parts.setdefault(part, ([], []))
        texts.append(x)
        labels.append(y)
    if odd_splits:
        number, value = odd_splits[0]
        raise InputError(
            f"'{path}': column '{split}' has {len(odd_splits)} value(s) other than train, val, "
            f"validation or test (first {value!r} in {unit} {number}). Fix them, or rename the "
            "column if it is not a train/val/test split.")
    _report_bad(path, bad, unit, skip_bad, notes)
    if split:
        notes.append(f"split the {unit}s into train/val/test by column '{split}'")
    every = [y for _, labels in parts.values() for y in labels]
    numeric = all(_is_int(y) for y in every)
    return {part: (np.array(texts), np.array([int(y) for y in labels] if numeric else labels))
            for part, (texts, labels) in parts.items()}, label


def suggest_sequence_length(texts):
    """Token length covering about 95% of `texts` (whitespace tokens), a multiple of 8 in [16, 400].

    Example: `suggest_sequence_length(["a short text"] * 100)` is 16.
    """
    lengths = [len(str(text).split()) for text in texts]
    covering = np.percentile(lengths, 95) if lengths else 0
    return int(min(400, max(16, math.ceil(covering / 8) * 8)))


def read_text_file(file):
    """(text, None), or (None, why it is bad)."""
    if file.suffix.lower() != ".txt":
        return None, "is not a .txt file but sits in a class folder of .txt files"
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, f"is not UTF-8 text ({error.reason} at byte {error.start}); re-save as UTF-8"
    except OSError as error:
        return None, f"cannot be read ({error.strerror})"
    if not text.strip():
        return None, "is empty"
    return text.replace("<br />", " "), None


def read_npz(path, notes):
    """{part: (x, y)} from arrays x, y (or x_train, y_train), x_val, y_val, x_test, y_test."""
    expected = ("Expected np.savez(path, x=x, y=y), optionally with x_val, y_val, x_test, y_test: "
                "x images (n, height, width[, channels]) or texts (n,), y class labels (n,)")
    if not zipfile.is_zipfile(path):
        raise InputError(f"'{path}' is not a .npz archive. {expected}.")
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        train = ("x", "y") if "x" in keys or "x_train" not in keys else ("x_train", "y_train")
        pairs = {"train": train, "val": ("x_val", "y_val"), "test": ("x_test", "y_test")}
        if not set(train) <= keys:
            raise InputError(f"'{path}' holds arrays {', '.join(sorted(keys)) or '(none)'}, not "
                             f"x and y. {expected}.")
        for pair in pairs.values():
            if len(keys & set(pair)) == 1:
                present, absent = pair if pair[0] in keys else pair[::-1]
                raise InputError(f"'{path}' has {present} but no {absent}. Expected them in "
                                 "pairs: x_val with y_val, x_test with y_test.")
        ignored = sorted(keys - {key for pair in pairs.values() for key in pair})
        if ignored:
            notes.append(f"ignored arrays {', '.join(ignored)}")
        parts = {part: tuple(_npz_array(f, key, path) for key in pair)
                 for part, pair in pairs.items() if keys & set(pair)}
    modalities = set()
    for part, (x, y) in parts.items():
        x_key, y_key = pairs[part]
        if len(x) != len(y):
            raise InputError(f"'{path}': {x_key} holds {len(x)} examples but {y_key} "
                             f"{len(y)} labels. Expected one label per example.")
        x, modality = _npz_x(x, x_key, path, notes)
        parts[part] = (x, _npz_y(y, y_key, path))
        modalities.add((modality, x.shape[1:] if modality == "image" else ()))
    if len(modalities) > 1:
        raise InputError(f"'{path}': the parts' x arrays differ in kind or shape "
                         f"({', '.join(str(parts[p][0].shape) for p in parts)}). Expected the "
                         "same kind and image shape.")
    if len({parts[p][1].dtype.kind for p in parts}) > 1:
        raise InputError(f"'{path}': some y arrays hold numbers, others strings. Expected one "
                         "kind of label in all parts.")
    if list(parts) == ["train"]:  # no given val or test: all of it is split
        parts = {"all": parts["train"]}
    return parts, modalities.pop()[0]


def _npz_array(f, key, path):
    try:
        array = f[key]
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InputError(f"'{path}': array {key} holds Python objects, which tfopt does not "
                             "unpickle. Save strings as fixed-width unicode, e.g. "
                             "np.array(texts, dtype=str), and labels as numbers or strings.") \
                from error
        array = error
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        array = error
    if not isinstance(array, np.ndarray):
        raise InputError(f"'{path}': {key} is not a readable NumPy array"
                         f"{f' ({array})' if isinstance(array, Exception) else ''}. Save the "
                         "file again with np.savez.")
    return array


def _npz_x(x, key, path, notes):
    """(x, "text") for a 1-D str array, else (uint8 images (n, h, w, 1 or 3), "image")."""
    if x.dtype.kind == "U" and x.ndim == 1:
        return x, "text"
    if x.dtype.kind in "iuf" and x.ndim == 3:
        x = x[..., None]
    if x.dtype.kind not in "iuf" or x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or not len(x):
        raise InputError(
            f"'{path}': {key} has shape {x.shape} and dtype {x.dtype}. tfopt tunes image and "
            "text classifiers, so it expects images (n, height, width) or (n, height, width, "
            "channels) with 1, 3 or 4 channels, or texts as a str array (n,): "
            "np.array(texts, dtype=str).")
    if x.dtype != np.uint8:
        low, high = (x.min(), x.max()) if np.isfinite(x).all() else (np.nan, np.nan)
        if not 0 <= low <= high <= 255:
            raise InputError(f"'{path}': {key} has values from {low} to {high}. Expected pixel "
                             "values from 0 to 255 (or 0 to 1 floats), without NaN.")
        scale = 255 if x.dtype.kind == "f" and high <= 1 else 1
        notes.append(f"converted {key} from {x.dtype} to uint8" if scale == 1 else
                     f"scaled {key} from 0-1 floats to uint8 0-255")
        x = np.round(x * scale).astype(np.uint8)
    if x.shape[-1] == 4:
        x = x[..., :3]
        notes.append(f"dropped the alpha channel of {key}")
    return x, "image"


def _npz_y(y, key, path):
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    integral = y.dtype.kind in "iub" or (
        y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all())
    if y.ndim != 1 or not (integral or y.dtype.kind == "U"):
        raise InputError(f"'{path}': {key} has shape {y.shape} and dtype {y.dtype}. Expected "
                         "class labels (n,): whole numbers or strings (one-hot labels: save "
                         "y.argmax(axis=1)).")
    return y.astype(np.int64) if integral else y


def _read_csv(path, notes):
    kind, delimiter = ("TSV", "\t") if path.suffix.lower() == ".tsv" else ("CSV", ",")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            try:
                records = list(reader)
            except csv.Error as error:
                raise InputError(f"'{path}' is not a readable {kind} file ({error}, line "
                                 f"{reader.line_num}). Fix that line, e.g. close its quotes.") \
                    from error
    except UnicodeDecodeError as error:
        raise InputError(f"'{path}' is not UTF-8 text ({error.reason} at byte {error.start}). "
                         "Re-save it as UTF-8 (in a spreadsheet: 'CSV UTF-8').") from error
    header = [name.strip() for name in records[0]] if records else []
    if not any(header):
        raise InputError(f"'{path}' has no header line. Expected column names on line 1 "
                         f"(e.g. text{delimiter}label), then one row per example.")
    rows, bad, blank = [], {}, 0
    wide = f"with more fields than the header's {len(header)} (quote texts that contain " \
           f"{'tabs' if kind == 'TSV' else 'commas'})"
    # Numbered as a spreadsheet shows them: the header is row 1.
    for number, record in enumerate(records[1:], start=2):
        if not any(field.strip() for field in record):
            blank += 1
        elif len(record) > len(header):
            bad.setdefault(wide, []).append(number)
        else:
            rows.append((number, dict(zip(header, record))))
    if blank:
        notes.append(f"ignored {blank} blank row(s)")
    return header, rows, bad


def _read_jsonl(path):
    try:
        # Not splitlines(): JSON strings may hold U+2028 and friends.
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except UnicodeDecodeError as error:
        raise InputError(f"'{path}' is not UTF-8 text ({error.reason} at byte {error.start}). "
                         "Re-save it as UTF-8.") from error
    columns, rows, invalid, bad = {}, [], [], {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            invalid.append((number, error.msg))
            continue
        if not isinstance(record, dict):
            bad.setdefault("with a JSON value other than an object ({...})", []).append(number)
            continue
        columns.update(dict.fromkeys(record))
        rows.append((number, {key: _cell(value) for key, value in record.items()}))
    if invalid:
        reason = f"with invalid JSON (line {invalid[0][0]}: {invalid[0][1]})"
        bad = {reason: [number for number, _ in invalid], **bad}
    return list(columns), rows, bad


def _cell(value):
    """A JSON value as table text: null is empty, 1.0 is "1"."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _report_bad(path, bad, unit, skip_bad, notes):
    for reason, numbers in bad.items():
        count, plural = len(numbers), "s" if len(numbers) > 1 else ""
        them = "them" if plural else "it"
        shown = ", ".join(map(str, numbers[:SHOWN])) + (
            f" and {count - SHOWN} more" if count > SHOWN else "")
        if not skip_bad:
            raise InputError(f"'{path}' has {count} {unit}{plural} {reason}: {unit}{plural} "
                             f"{shown}. Fix or delete {them}, or pass --skip-bad to skip {them}.")
        notes.append(f"skipped {count} {unit}{plural} {reason} ({unit}{plural} {shown})")


# A label column not named as one (`LABEL_NAMES`) is inferred only when it has at most this many
# distinct values, and at most half as many as rows: else it may be an author or free text.
MAX_INFERRED_CLASSES = 100


def _check_few_values(path, columns, rows, label):
    """Raises InputError when `label`, inferred by elimination, has too many distinct values
    to be a label column."""
    distinct = len({row.get(label) for _, row in rows})
    if distinct > min(MAX_INFERRED_CLASSES, len(rows) / 2):
        raise InputError(
            f"'{path}' has columns {', '.join(columns)}; none is named like a label column "
            f"({', '.join(LABEL_NAMES[:4])}, ...), and '{label}' has {distinct} distinct values "
            f"in {len(rows)} rows, too many for classes. Pass --label-column (and "
            "--text-column) to say which column holds the label.")


def _pick_columns(path, columns, rows, text_column, label_column, notes):
    """The text and label columns: as given, else by name, else the only two columns."""
    for flag, given in (("--text-column", text_column), ("--label-column", label_column)):
        if given is not None and given not in columns:
            close = difflib.get_close_matches(given.lower(), [c.lower() for c in columns], n=1)
            hint = f" Did you mean '{columns[[c.lower() for c in columns].index(close[0])]}'?" \
                if close else ""
            raise InputError(f"'{path}' has no column '{given}' ({flag}). Columns: "
                             f"{', '.join(columns)}.{hint}")
    by_lower = {c.lower(): c for c in reversed(columns)}  # the first of equal names wins

    def by_name(names, taken):
        return next((by_lower[n] for n in names if n in by_lower and by_lower[n] != taken), None)

    text = text_column or by_name(TEXT_NAMES, label_column)
    label = label_column or by_name(LABEL_NAMES, text)
    how = {"text": "by its name", "label": "by its name"}
    data = [c for c in columns if c.lower() != "split"]
    if (text is None or label is None) and len(data) == 2:
        if text is None and label is None:
            distinct = {c: len({row.get(c) for _, row in rows}) for c in data}
            if distinct[data[0]] != distinct[data[1]]:
                label, text = sorted(data, key=distinct.get)
                how["label"] = "of two columns, the one with fewer distinct values"
                how["text"] = "the other column"
        else:
            how["text" if text is None else "label"] = "the other of two columns"
            other = next(c for c in data if c not in (text, label))
            text, label = text or other, label or other
    if label is not None and label_column is None and how["label"] != "by its name":
        _check_few_values(path, columns, rows, label)
    if text is None or label is None or text == label:
        raise InputError(
            f"'{path}' has columns {', '.join(columns)}; tfopt cannot tell which holds the text "
            "and which the label. Pass --text-column and --label-column (two different columns).")
    inferred = [f"the {kind} column '{name}' ({how[kind]})" for kind, name, given in
                (("text", text, text_column), ("label", label, label_column)) if given is None]
    if inferred:
        notes.append(f"inferred {' and '.join(inferred)}; pass --text-column/--label-column "
                     "to choose others")
    return text, label


def _is_int(value):
    try:
        int(value)
    except ValueError:
        return False
    return True
