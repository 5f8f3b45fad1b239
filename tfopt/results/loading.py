"""Loading a finished run back: final model, best hyperparameters and results."""

import dataclasses
import json
import pathlib
import re
import zipfile

from tfopt.choices import CLASSIFIER
from tfopt.errors import InputError

FINAL_MODEL = "final_model.keras"
# Keras releases before this one let a crafted .keras file run code despite safe mode
# (CVE-2025-1550, CVE-2025-8747, CVE-2025-9905/9906).
SAFE_KERAS = (3, 11, 3)
RESULTS_FORMAT = 2  # bumped when results.json changes incompatibly
# trials.csv's last columns, from each tuner's trial_stats.json
STATS_COLUMNS = ("epochs_run", "seconds", "ended_at", "stopped_early")


@dataclasses.dataclass
class LoadedRun:
    """A finished run: `model` (the final keras.Model: raw images or strings in, class
    probabilities out; pass strings as `np.array(texts, dtype=object)` or
    `tf.constant(texts)`), `best_hyperparameters` (dict), `results` (dict)."""

    model: object
    best_hyperparameters: dict
    results: dict
    run_dir: pathlib.Path


def load(run_dir):
    """Loads a finished run's final model, best hyperparameters and results, without retraining.

    The model is read in Keras' safe mode (no Python code from the file runs),
    and only from the native `.keras` format.

    Raises:
        InputError: if the folder is missing, not a finished tfopt run (for
            example an interrupted search), written by an unknown version, its
            model file is not a `.keras` archive, or Keras is older than the
            release with the 2025 safe-mode fixes.
    """
    results = load_results(run_dir)
    import keras

    import tfopt.models  # noqa: F401  registers the custom layers the model file names

    _check_safe_keras(keras.__version__)
    run_dir = pathlib.Path(run_dir)
    path = run_dir / FINAL_MODEL
    if path.is_symlink() or not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not a .keras archive (a link, or another format such as "
                         "HDF5 or a pickle); tfopt loads only the .keras files it writes. "
                         "Re-run the search to write it again.")
    model = keras.models.load_model(path, safe_mode=True)
    hyperparameters = json.loads((run_dir / "best_hyperparameters.json").read_text())
    return LoadedRun(model, hyperparameters, results, run_dir)


def _check_safe_keras(version):
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if numbers < SAFE_KERAS:
        wanted = ".".join(map(str, SAFE_KERAS))
        raise InputError(f"Keras {version} is installed; loading a saved model needs Keras >= "
                         f"{wanted} (its safe mode fixes). Run `pip install 'keras>={wanted}'`.")


def load_results(run_dir):
    """A finished run's `results.json` as a dict, checked like `load` checks it."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"Run folder '{run_dir}' does not exist. Pass a folder written by "
                         "`tfopt search` (see runs/).")
    results_file = run_dir / "results.json"
    if not results_file.is_file():
        hint = ("its search did not finish; run the same `tfopt search` with --out "
                f"{run_dir} to resume it") if (run_dir / "config.json").is_file() else \
            "it is not a tfopt run folder"
        raise InputError(f"'{run_dir}' has no results.json: {hint}.")
    try:
        results = json.loads(results_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{results_file} is not valid JSON ({error}).") from error
    if results.get("format") != RESULTS_FORMAT:
        raise InputError(f"{results_file} has format {results.get('format')!r}; this tfopt "
                         f"reads format {RESULTS_FORMAT}. Load it with the tfopt version that "
                         "wrote it, or re-run the search.")
    missing = [name for name in (FINAL_MODEL, "best_hyperparameters.json", "trials.csv",
                                 "test_predictions.npz") if not (run_dir / name).exists()]
    if missing:
        raise InputError(f"'{run_dir}' is incomplete: {', '.join(missing)} missing. Re-run the "
                         f"search with --out {run_dir} to write them again.")
    return results


def ensemble_label(ensemble):
    """ "retrained of trials 0003, 0007" or "retrained and checkpoint of trial 0003"."""
    ids = ensemble["trial_ids"]
    return f"{ensemble['members']} of trial{'s' * (len(ids) > 1)} {', '.join(ids)}"


@dataclasses.dataclass
class Source:
    """The finished run fine-tuning starts from: its trained `network` (no preprocessing)
    and the `run` as `tfopt.load` returns it."""

    network: object  # a keras.Model
    run: object


def load_source(run_dir):
    """The `Source` of `--init-from RUN_DIR`. An average's best member (its first)
    stands for it.

    Raises:
        InputError: if `run_dir` is not a finished run, or its network has no
            `predictions` classifier to replace (e.g. a custom model).
    """
    import keras

    run = load(run_dir)
    network = next(layer for layer in run.model.layers if isinstance(layer, keras.Model))
    if network.name in ("ensemble", "averaged"):
        network = next(layer for layer in network.layers if isinstance(layer, keras.Model))
    if CLASSIFIER not in [layer.name for layer in network.layers]:
        raise InputError(f"--init-from {run_dir}: its network '{network.name}' has no "
                         f"'{CLASSIFIER}' layer to replace; fine-tuning needs a run of a tfopt "
                         "family (vgg, textcnn, transformer).")
    return Source(network, run)
