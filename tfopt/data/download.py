"""Locating data: the data directory first, then a checksummed, cached download."""

import hashlib
import os
import pathlib

from tfopt.errors import InputError

DATA_DIR_ENV = "TFOPT_DATA_DIR"
OFFLINE_ENV = "TFOPT_OFFLINE"


class DataUnavailableError(InputError):
    """A data set is neither in the data directory nor downloadable."""


def resolve_data_dir(data_dir=None):
    """Returns the data directory (argument, else `$TFOPT_DATA_DIR`) as a Path, or None.

    Raises:
        InputError: if the directory is given but does not exist.
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if not data_dir:
        return None
    path = pathlib.Path(data_dir).expanduser()
    if not path.is_dir():
        raise InputError(
            f"Data directory '{data_dir}' does not exist or is not a folder. "
            f"Pass an existing folder (--data-dir or ${DATA_DIR_ENV}), or leave it unset to download."
        )
    return path


def find_local(data_dir, folders, names):
    """Returns the first of `folders` (under `data_dir`; absolute ones as they are) that
    holds every file in `names`."""
    candidates = [pathlib.Path(data_dir or "", f) for f in folders if data_dir or os.path.isabs(f)]
    for folder in candidates:
        if all((folder / name).is_file() for name in names):
            return folder
    return None


def download(fname, origin, *, file_hash=None, extract=False):
    """Downloads `origin` once into the Keras cache (`~/.keras/datasets`) and checks its hash.

    Raises:
        DataUnavailableError: when offline (`$TFOPT_OFFLINE=1`) or the download fails.
    """
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise DataUnavailableError(f"not downloading {origin}: ${OFFLINE_ENV} is set")
    import keras

    try:
        return pathlib.Path(
            keras.utils.get_file(fname, origin=origin, file_hash=file_hash, extract=extract)
        )
    except Exception as error:  # urllib, socket and hash errors all mean "not available"
        raise DataUnavailableError(
            f"could not download {origin} ({error}). Connect to the internet, or put the data "
            f"set's files in a data directory (--data-dir or ${DATA_DIR_ENV}; the README's "
            "Tasks table gives each layout).") from error


def check_sha256(data, expected, what):
    """Raises ValueError when `data` (bytes) does not have the expected sha256."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise InputError(
            f"{what} is corrupt or not the expected file: sha256 {digest}, expected {expected}. "
            "Delete it and download it again."
        )
