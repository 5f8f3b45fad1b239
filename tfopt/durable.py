"""Search state that survives a kill at any point: atomic JSON writes with a backup,
recovery on resume, trial ids checked before they become paths.

keras-tuner writes `oracle.json` and each `trial_<id>/trial.json` by truncating the
file and writing it again, so a kill while saving leaves an empty or half-written
file, and a resume then fails or starts afresh. Here every state file is written
to a temporary file and renamed over the old one (which is first copied to
`<name>.bak`), and `oracle.json` also holds every trial's record, so a deleted or
damaged `trial.json` is restored from it.
"""

import json
import os
import pathlib
import re
import shutil

from tfopt.errors import InputError
from tfopt.log import logger

BACKUP_SUFFIX = ".bak"
# keras-tuner's trial ids are zero-padded numbers; anything else in a state file is refused
# before it becomes part of a path.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_name(kind, name):
    """`name` unchanged if it is safe as one path component (letters, digits, `_`, `-`).

    Raises:
        InputError: for `..`, a path, an empty name or other characters.
    """
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise InputError(f"Unsafe {kind} {name!r}: expected 1-64 letters, digits, '_' or '-' "
                         "(no '/', '..' or spaces), since it becomes a folder name.")
    return name


def write_json(path, obj, indent=None):
    """Writes `obj` as JSON to `path` atomically; the previous file is kept as `<path>.bak`.

    A kill at any moment leaves `path` either whole-old or whole-new, and the
    backup whole.
    """
    path = pathlib.Path(path)  # temporary names per process: workers share config.json
    _write_atomically(path.with_name(f"{path.name}.{os.getpid()}.tmp"), path,
                      json.dumps(obj, indent=indent).encode())


def _write_atomically(tmp, path, data):
    if _problem(path) is None:  # a damaged file never replaces a good backup
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        backup_tmp = backup.with_name(f"{backup.name}.{os.getpid()}.tmp")
        shutil.copyfile(path, backup_tmp)
        os.replace(backup_tmp, backup)
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)


def read_json(path):
    """The JSON in `path`, or in its backup when `path` is missing, empty or damaged.

    Raises:
        InputError: naming the file, when neither it nor its backup can be read.
    """
    path = pathlib.Path(path)
    problem = _problem(path)
    if problem is None:
        return json.loads(path.read_text())
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if _problem(backup) is None:
        logger.warning(f"{path} is {problem}; restored it from {backup.name}")
        obj = json.loads(backup.read_text())
        write_json(path, obj)
        return obj
    raise InputError(f"{path} is {problem} and its backup {backup.name} is "
                     f"{_problem(backup)}. Restore the file, or search again with a new --out.")


def read_json_or(path, default):
    """`read_json(path)`, or `default` when neither `path` nor its backup exists."""
    path = pathlib.Path(path)
    if not path.exists() and not path.with_name(path.name + BACKUP_SUFFIX).exists():
        return default
    return read_json(path)


def readable(path):
    """Whether `path` holds a JSON object."""
    return _problem(pathlib.Path(path)) is None


def _problem(path):
    """Why `path` holds no JSON object (None when it does)."""
    if not path.is_file():
        return "missing"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        return f"unreadable ({error})"
    if not text.strip():
        return "empty"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        return f"damaged ({error.msg} at character {error.pos})"
    return None if isinstance(obj, dict) else "not a JSON object"


def remove_inside(root, path):
    """Removes the file or folder `path` only when it lies inside `root` (links resolved).

    Raises:
        InputError: when `path` resolves outside `root` (for example through a
            symbolic link); nothing is removed then.
    """
    root, target = pathlib.Path(root).resolve(), pathlib.Path(path).resolve()
    if target == root or root not in target.parents:
        raise InputError(f"Refusing to remove '{path}': it resolves to '{target}', outside the "
                         f"run folder '{root}'. Remove the link or move the run folder.")
    if pathlib.Path(path).is_symlink() or target.is_file():
        pathlib.Path(path).unlink()
    elif target.is_dir():
        shutil.rmtree(target)
