"""A user's own data set, read-only: image or text folders, CSV/TSV/JSONL tables, .npz arrays.

`load_user_data(path)` tells the layout from the path and returns `Splits` like
the built-in loaders do, with `notes` on everything it decided or converted.
It never writes, moves or creates anything inside the user's path.
"""

import collections
import itertools
import math
import pathlib
import re

import numpy as np

from tfopt.data.splits import Splits, make_splits, split_off
from tfopt.data.user_tables import (read_npz, read_table, read_text_file,
                                    suggest_sequence_length)
from tfopt.errors import InputError

__all__ = ["load_user_data", "sniff_modality", "suggest_sequence_length"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TABLE_KINDS = {".csv": "CSV file", ".tsv": "TSV file", ".jsonl": "JSONL file"}
IGNORED_FILES = ("thumbs.db", "desktop.ini")  # OS clutter, skipped silently like hidden files
PARTS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
TEST_FRACTION, VAL_FRACTION = 0.2, 0.1
MAX_SIDE = 128  # an inferred image size is scaled down to this longer side
MAX_IMAGE_SIZE = 1024
KINDS = ("an image folder (one sub-folder per class), a text folder (one sub-folder per class "
         "of .txt files), or a .csv, .tsv, .jsonl or .npz file")
SKIP_BAD = "Fix or remove it, or pass --skip-bad to skip bad files"


def load_user_data(path, *, text_column=None, label_column=None, image_size=None,
                   skip_bad=False):
    """Loads a labelled image or text data set of the user's, split into train/val/test.

    Args:
        path: a folder with one sub-folder per class of images (PNG/JPEG/BMP/GIF)
            or of .txt files, optionally inside train/, val/ (or validation/)
            and test/; a .csv, .tsv or .jsonl table of texts and labels, with an
            optional `split` column; or a .npz with arrays x and y (optionally
            x_val/y_val, x_test/y_test). Read only, never written.
        text_column: the table column holding the text; inferred when obvious.
        label_column: the table column holding the label; inferred when obvious.
        image_size: images are resized to this: N, "N", "HxW" or (height, width).
            By default, the most common size (longer side at most 128).
        skip_bad: skip unreadable files, empty texts and bad rows (counted in
            `notes`) instead of stopping at the first.

    Returns:
        `Splits` with uint8 images (n, h, w, 1 or 3) or raw str texts, int32
        labels, sorted `class_names`, a one-line `source` and `notes`. Given
        train/val/test parts are kept; missing ones are carved out stratified
        and seeded (20% test, 10% validation).

    Raises:
        InputError: for a missing path, an unknown layout, bad data or too few
            examples, saying what was found, what was expected and how to fix it.

    Example: `load_user_data("~/pets", image_size=64).class_names` is
    `["cat", "dog"]` for folders ~/pets/cat/ and ~/pets/dog/.
    """
    path = pathlib.Path(path).expanduser()
    size = _image_size(image_size)
    notes = []
    if not path.exists():
        raise _not_found(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        parts, modality = _read_folder(path, size, skip_bad, notes)
        kind, numeric = f"{modality} folder", False
        hint = "put each class's files in its own sub-folder, e.g. cats/ and dogs/"
    elif suffix in TABLE_KINDS:
        parts, label = read_table(path, text_column=text_column, label_column=label_column,
                                  skip_bad=skip_bad, notes=notes)
        kind, modality, numeric = TABLE_KINDS[suffix], "text", True
        hint = f"column '{label}' needs at least two different labels"
    elif suffix == ".npz":
        parts, modality = read_npz(path, notes)
        if modality == "image" and size and next(iter(parts.values()))[0].shape[1:3] != size:
            parts = {part: (_resize(x, size), y) for part, (x, y) in parts.items()}
            notes.append(f"resized all images to {size[0]}x{size[1]} (--image-size)")
        kind, numeric, hint = "NumPy file", True, "y needs at least two different labels"
    else:
        raise _unknown_kind(path)
    if modality == "text" and size:
        notes.append("ignored --image-size: the data is text")
    return _finish(path, notes, parts, modality, kind, numeric=numeric, hint=hint)


def sniff_modality(path):
    """"image" or "text", from the kinds of files alone, without reading the data set
    (`load_user_data` checks everything else).

    Raises:
        InputError: for a missing path, an unknown file type, or a folder with
            neither images nor .txt files.
    """
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise _not_found(path)
    suffix = path.suffix.lower()
    if path.is_file() and suffix in TABLE_KINDS:
        return "text"
    if path.is_file() and suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as arrays:
                x = arrays["x" if "x" in arrays.files else "x_train"]
            return "text" if x.dtype.kind == "U" else "image"
        except Exception:  # noqa: BLE001  load_user_data says precisely what is wrong
            return "image"
    if path.is_file():
        raise _unknown_kind(path)
    for file in path.rglob("*"):
        if file.suffix.lower() in IMAGE_SUFFIXES:
            return "image"
        if file.suffix.lower() == ".txt":
            return "text"
    raise InputError(f"'{path}' holds no image (PNG/JPEG/BMP/GIF) or .txt files. "
                     f"Expected {KINDS}.")


def _not_found(path):
    return InputError(f"Data path '{path}' does not exist. Expected {KINDS}.")


def _unknown_kind(path):
    return InputError(f"'{path}' is a {path.suffix.lower() or 'suffix-less'} file, which tfopt "
                      f"cannot read. Expected {KINDS}.")


def _image_size(value):
    """(height, width) from N, "N", "HxW" or (h, w); None stays None."""
    if value is None:
        return None
    size, whole = None, (int, np.integer)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", value)
        size = match and (int(match[1]), int(match[2] or match[1]))
    elif isinstance(value, whole) and not isinstance(value, bool):
        size = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, whole) and not isinstance(v, bool) for v in value)):
        size = (int(value[0]), int(value[1]))
    if not size or not all(1 <= side <= MAX_IMAGE_SIZE for side in size):
        raise InputError(
            f"Invalid image size {value!r}. Expected N (N x N), 'HxW' (height x width, e.g. "
            f"'64x48') or a (height, width) pair of whole numbers from 1 to {MAX_IMAGE_SIZE}; "
            "e.g. --image-size 64.")
    return size


def _visible(folder):
    """Entries of `folder`, sorted, without hidden files and OS clutter."""
    return sorted(p for p in folder.iterdir()
                  if not p.name.startswith(".") and p.name.lower() not in IGNORED_FILES)


def _names(paths, root, limit=3):
    names = [str(p.relative_to(root)) + ("/" if p.is_dir() else "") for p in paths]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit
                                       else "")


def _keep_one_kind(files, found, root, notes):
    """Images (by suffix) where there are any, else .txt files; files of other kinds are
    skipped and counted in `notes`, as Keras' `image_dataset_from_directory` skips them.

    Returns:
        ({part: [(class, file)]} of the kept files, "image" or "text").

    Raises:
        InputError: when the class folders hold neither.
    """
    suffixes = {f.suffix.lower() for f in found}
    if suffixes & set(IMAGE_SUFFIXES):
        modality, kept = "image", set(IMAGE_SUFFIXES)
    elif ".txt" in suffixes:
        modality, kept = "text", {".txt"}
    else:
        raise InputError(f"'{root}' has no images (PNG/JPEG/BMP/GIF) or .txt files in its class "
                         f"folders (found {_names(found, root)}). Expected one sub-folder per "
                         "class holding its images or .txt files.")
    other = [f for f in found if f.suffix.lower() not in kept]
    if other:
        what = "images" if modality == "image" else ".txt files"
        notes.append(f"skipped {len(other)} file(s) that are not {what}: {_names(other, root)}")
    return {part: [(c, f) for c, f in entries if f.suffix.lower() in kept]
            for part, entries in files.items()}, modality


def _read_folder(root, size, skip_bad, notes):
    """{part: (x, class names)} from class sub-folders, optionally inside train/val/test."""
    entries = _visible(root)
    named = [p for p in entries if p.is_dir() and p.name.lower() in PARTS]
    groups = {PARTS[p.name.lower()]: p for p in named}
    if len(groups) < len(named):
        raise InputError(f"'{root}' has both val/ and validation/. Expected one validation "
                         "folder; merge them or remove one.")
    if groups and "train" not in groups:
        raise InputError(f"'{root}' has {_names(named, root)} but no train/. Expected train/ "
                         "(and optionally val/ and test/), each with one sub-folder per class.")
    if groups and len(named) < len(entries):
        notes.append(f"ignored {_names([p for p in entries if p not in named], root)} next to "
                     "the train/val/test folders")
    files, hidden = {}, []
    for part, folder in (groups or {"all": root}).items():
        inner = _visible(folder)
        for unsup in (p for p in inner if p.is_dir() and p.name == "unsup"):
            notes.append(f"ignored {_names([unsup], root)} (unlabelled examples)")
        classes = [p for p in inner if p.is_dir() and p.name != "unsup"]
        loose = [p for p in inner if not p.is_dir()]
        if loose:
            notes.append(f"ignored {_names(loose, root)} next to the class folders")
        files[part] = []
        for c in classes:
            for f in sorted(c.rglob("*")):
                if not f.is_file():
                    continue
                if f.name.lower() in IGNORED_FILES or \
                        any(n.startswith(".") for n in f.relative_to(c).parts):
                    hidden.append(f)
                else:
                    files[part].append((c.name, f))
        empty = [c for c in classes if not any(name == c.name for name, _ in files[part])]
        if empty:
            notes.append(f"ignored empty folder(s) {_names(empty, root)}")
    found = [f for part in files.values() for _, f in part]
    if not found:
        others = [p.name for p in entries if p.suffix.lower() in (*TABLE_KINDS, ".npz")]
        raise InputError(
            f"'{root}' has no class sub-folders with files in them. Expected one sub-folder per "
            "class holding its images or .txt files (e.g. cats/, dogs/), optionally inside "
            "train/, val/ and test/." + (f" To load {others[0]}, pass that file itself."
                                         if others else ""))
    if hidden:
        notes.append(f"skipped {len(hidden)} hidden or system file(s): {_names(hidden, root)}")
    files, modality = _keep_one_kind(files, found, root, notes)
    read = _read_image if modality == "image" else read_text_file
    parts, bad = {}, []
    for part, entries in files.items():
        xs, labels = [], []
        for label, file in entries:
            x, reason = read(file)
            if x is None:
                if not skip_bad:
                    raise InputError(f"'{file}' {reason}. {SKIP_BAD}.")
                bad.append(file)
                continue
            xs.append(x)
            labels.append(label)
        if xs:
            parts[part] = (xs, np.array(labels))
    if bad:
        notes.append(f"skipped {len(bad)} bad file(s): {_names(bad, root)}")
    if modality == "text":
        return {part: (np.array(xs), y) for part, (xs, y) in parts.items()}, modality
    return _conform_images(parts, size, notes), modality


def _read_image(file):
    """(uint8 array in its own channels, None), or (None, why it is bad)."""
    _require_tensorflow("Reading image files")
    import tensorflow as tf

    if file.suffix.lower() not in IMAGE_SUFFIXES:
        return None, "is not an image (PNG/JPEG/BMP/GIF) but sits in a class folder"
    try:
        return tf.io.decode_image(file.read_bytes(), expand_animations=False).numpy(), None
    except (tf.errors.OpError, OSError) as error:
        # TF prefixes {{function_node ...}} and appends [Op:DecodeImage]; keep the reason.
        reason = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", str(error).splitlines()[0]).strip()
        return None, f"is not a readable image ({reason})"


def _require_tensorflow(what):
    """Raises InputError without TensorFlow, whose image ops decode and resize own images."""
    from tfopt.backend import has_tensorflow

    if not has_tensorflow():
        import keras

        raise InputError(f"{what} of your own image data needs TensorFlow (tf.io/tf.image), "
                         f"which is not installed (Keras backend '{keras.backend.backend()}'). "
                         "Install TensorFlow (pip install tensorflow), or pass an .npz of "
                         "equally sized uint8 images (x) and labels (y) without --image-size.")


def _conform_images(parts, size, notes):
    """One channel count (3 if any image is colour, else 1) and one size for all images."""
    images = [image for xs, _ in parts.values() for image in xs]
    channels = 3 if any(image.shape[2] >= 3 for image in images) else 1
    grey = sum(image.shape[2] <= 2 for image in images) if channels == 3 else 0
    alpha = sum(image.shape[2] in (2, 4) for image in images)
    if grey:
        notes.append(f"converted {grey} grey image(s) to RGB (the data set has colour images)")
    if alpha:
        notes.append(f"dropped the alpha (transparency) channel of {alpha} image(s)")
    if size:
        notes.append(f"image size {size[0]}x{size[1]} (--image-size)")
    else:
        size = _infer_size(collections.Counter(image.shape[:2] for image in images), notes)
    resized = 0
    for part, (xs, labels) in parts.items():
        for i, image in enumerate(xs):
            image = image[..., :1] if channels == 1 else (
                np.repeat(image[..., :1], 3, axis=2) if image.shape[2] <= 2 else image[..., :3])
            if image.shape[:2] != size:
                image, resized = _resize(image, size), resized + 1
            xs[i] = image
        parts[part] = (np.stack(xs), labels)
    if resized:
        notes.append(f"resized {resized} of {len(images)} images to {size[0]}x{size[1]}")
    return parts


def _infer_size(counts, notes):
    (height, width), count = counts.most_common(1)[0]
    total = sum(counts.values())
    if max(height, width) <= MAX_SIDE:
        notes.append(f"image size {height}x{width}, " + (
            "the size of all images" if count == total else
            f"the most common size ({count} of {total} images); pass --image-size for another"))
        return height, width
    scale = MAX_SIDE / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    notes.append(f"image size {size[0]}x{size[1]}: the most common size {height}x{width} "
                 f"scaled down to a longer side of {MAX_SIDE} to keep tuning fast; pass "
                 "--image-size for another")
    return size


def _resize(images, size):
    """Antialiased resize of one image or a batch, rounded back to uint8."""
    _require_tensorflow("Resizing images")
    import tensorflow as tf

    if images.ndim == 4 and len(images) > 256:  # in batches, to bound the float32 copy
        return np.concatenate([_resize(images[i:i + 256], size)
                               for i in range(0, len(images), 256)])
    resized = tf.image.resize(images, size, antialias=True).numpy()
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def _finish(path, notes, parts, modality, kind, *, numeric, hint):
    """Class indices, checks and the train/val/test split, as `Splits`."""
    values = np.concatenate([y for _, y in parts.values()]) if parts else np.array([])
    class_names = np.unique(values)
    indices = {part: np.searchsorted(class_names, y).astype("int32")
               for part, (_, y) in parts.items()}
    if numeric and values.dtype.kind in "iu" and (class_names != np.arange(len(class_names))).any():
        notes.append(f"mapped labels {', '.join(map(str, class_names[:5]))}"
                     f"{', ...' if len(class_names) > 5 else ''} to class indices "
                     f"0-{len(class_names) - 1}")
    class_names = [str(name) for name in class_names]
    if len(class_names) < 2:
        found = f"only one class, '{class_names[0]}'" if class_names else "no usable examples"
        raise InputError(f"'{path}' has {found}. A classifier needs at least two classes: "
                         f"{hint}.")
    pool = "all" if "all" in parts else "train"
    missing = set(range(len(class_names))) - set(indices.get(pool, ()))
    if missing:
        raise InputError(f"'{path}': class(es) {', '.join(class_names[i] for i in missing)} "
                         "have validation or test examples but no training ones. Expected "
                         "every class in train; add training examples or remove those.")
    total = sum(len(y) for y in indices.values())
    info = dict(class_names=class_names, modality=modality, notes=notes,
                source=f"{kind} {path} ({total:,} {modality}s, {len(class_names)} classes)")
    x, y = parts[pool][0], indices[pool]
    carve = [(part, fraction) for part, fraction in (("test", TEST_FRACTION), ("val", VAL_FRACTION))
             if part not in parts]
    _check_counts(path, y, class_names, len(carve) + 1, "" if pool == "all" else " in train")
    if pool == "train":
        given = [p for p in ("train", "val", "test") if p in parts]
        notes.append(f"used the given {', '.join(given[:-1])} and {given[-1]} parts"
                     + "".join(f"; carved {f:.0%} of train for {p}" for p, f in carve))
    else:
        notes.append("carved 20% for test, then 10% of the rest for validation (stratified, "
                     "seeded)")
    try:
        if "val" not in parts:
            x_test, y_test = (parts["test"][0], indices["test"]) if "test" in parts else (None,) * 2
            return make_splits(x, y, x_test=x_test, y_test=y_test, test_fraction=TEST_FRACTION,
                               val_fraction=VAL_FRACTION, **info)
        if "test" in parts:
            x_test, y_test = parts["test"][0], indices["test"]
        else:
            x, y, x_test, y_test = split_off(x, y, TEST_FRACTION)
    except ValueError as error:
        needed = next(n for n in itertools.count(len(y)) if _splittable(n, len(class_names), carve))
        raise InputError(f"'{path}': {len(y):,} examples{'' if pool == 'all' else ' in train'} "
                         f"are too few to carve stratified {' and '.join(p for p, _ in carve)} "
                         f"parts holding all {len(class_names)} classes; at least {needed} are "
                         "needed. Add examples, or give your own train/val/test parts.") from error
    return Splits(x, np.asarray(y, "int32"), parts["val"][0], indices["val"], x_test,
                  np.asarray(y_test, "int32"), **info)


def _check_counts(path, y, class_names, needed, where):
    counts = np.bincount(y, minlength=len(class_names))
    smallest = int(counts.argmin())
    if counts[smallest] < needed:
        raise InputError(
            f"'{path}': class '{class_names[smallest]}' has only {counts[smallest]} example(s)"
            f"{where}. Splitting every class stratified into train/val/test needs at least "
            f"{needed} per class (10 or more is sensible). Add examples of "
            f"'{class_names[smallest]}', or remove that class.")


def _splittable(n, classes, carve):
    """Whether sklearn's stratified splits of n examples leave every part >= `classes` large."""
    for _, fraction in carve:
        taken = math.ceil(fraction * n)
        if taken < classes or n - taken < classes:
            return False
        n -= taken
    return True
