"""Short searches on small data (issue 29's goals), and which final model wins.

`python -m benchmarks.small_data [--cases a,b] [--seeds 0,1] [--label-smoothing X]
[--space JSON] [--search JSON] [--out DIR]` runs each case's `tfopt.search` once a seed, one after
another, and prints one JSON line per run to stdout: the test accuracy (and macro F1,
log-loss, calibration error) of the best trial's checkpoint, of the retrained model,
and of their average (tfopt's default final model), with the trial scores and time.

Cases (the data must be offline: $TFOPT_DATA_DIR, Debian's dataset-fashion-mnist):
  digits_2x2, digits_3x3   scikit-learn's digits, `--max-trials 2 --epochs 2` / 3 and 3
  fashion3k_3x3            a folder of 3,000 Fashion-MNIST PNGs (300 a class, the first of
                           each class in the training split), made once under --out
  mnist_3x3                MNIST (the bundled 5,000 digits offline), 3 trials of 3 epochs
  mr_textcnn, mr_transformer   MR polarity, 2 trials of 4 epochs
  fashion_2x2              full Fashion-MNIST, 2 trials of 2 epochs

`--label-smoothing`, `--space` and `--search` are A/B knobs: the first sets the families'
label smoothing for this process, the second fixes or narrows hyperparameters as `space=`
does, the third adds keyword arguments of `tfopt.search` (e.g. `{"ensemble": 3}`).
"""

import argparse
import gzip
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

CASES = {
    "digits_2x2": dict(task="digits", max_trials=2, epochs=2),
    "digits_3x3": dict(task="digits", max_trials=3, epochs=3),
    "fashion3k_3x3": dict(data="fashion3k", max_trials=3, epochs=3),
    "mnist_3x3": dict(task="mnist", max_trials=3, epochs=3),
    "mr_textcnn": dict(task="mr", model="textcnn", max_trials=2, epochs=4),
    "mr_transformer": dict(task="mr", model="transformer", max_trials=2, epochs=4),
    "fashion_2x2": dict(task="fashion_mnist", max_trials=2, epochs=2),
}
# Folder names (tfopt's class names hold a "/").
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle_boot")


def fashion_folder(dest, per_class=300):
    """Writes the first `per_class` training images of each Fashion-MNIST class as PNGs
    under `dest/<class>/` (once) and returns `dest`."""
    import keras

    dest = pathlib.Path(dest)
    if (dest / "done").is_file():
        return dest
    images, labels = _fashion_train()
    for label, name in enumerate(FASHION_CLASSES):
        (dest / name).mkdir(parents=True, exist_ok=True)
        for i, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            keras.utils.save_img(dest / name / f"{i:04d}.png", images[index][..., None],
                                 scale=False)
    (dest / "done").write_text("")
    return dest


def _fashion_train():
    """Fashion-MNIST's training images and labels, in file order, found as tfopt finds them
    ($TFOPT_DATA_DIR, then Debian's dataset-fashion-mnist)."""
    from tfopt.data.download import find_local
    from tfopt.data.images import FASHION_DEBIAN, IDX_FILES, parse_idx

    folder = find_local(os.environ.get("TFOPT_DATA_DIR"),
                        ["fashion-mnist", "fashion_mnist", FASHION_DEBIAN], IDX_FILES)
    if folder is None:
        sys.exit("Fashion-MNIST's gzipped IDX files not found in $TFOPT_DATA_DIR or "
                 f"{FASHION_DEBIAN}; install Debian's dataset-fashion-mnist")
    return [parse_idx(gzip.decompress((folder / name).read_bytes())) for name in IDX_FILES[:2]]


def run_case(name, seed, out, space, extra=None):
    import tfopt

    kwargs = {**CASES[name], **(extra or {})}
    if kwargs.get("data") == "fashion3k":
        kwargs["data"] = str(fashion_folder(pathlib.Path(out) / "fashion3k"))
    started = time.time()
    result = tfopt.search(**kwargs, space=space, seed=seed, verbose=0,
                          out=str(pathlib.Path(out) / f"{name}_s{seed}_{int(started)}"))
    results = result.results
    keep = ("accuracy", "macro_f1", "log_loss", "expected_calibration_error")
    return {"case": name, "seed": seed, "final_model": results["final_model"],
            "test": {part: {key: round(scores[key], 4) for key in keep}
                     for part, scores in results["candidates"].items()},
            "trial_scores": [round(score, 4) for score in _trial_scores(result)],
            "calibration_share": _calibration_share(result),
            "best_hyperparameters": results["best_hyperparameters"],
            "seconds": round(time.time() - started, 1)}


def _trial_scores(result):
    trials = result.tuner.oracle.trials.values()
    return [trial.score for trial in trials if trial.score is not None]


def _calibration_share(result):
    """Seconds recomputing BN statistics over the trials' seconds (trial_stats.json)."""
    from tfopt.tuning.tuners import trial_stats

    stats = trial_stats(result.tuner).values()
    seconds = sum(trial["seconds"] for trial in stats)
    return round(sum(trial.get("calibration_seconds", 0) for trial in stats) / seconds, 4)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.small_data",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="digits_2x2,digits_3x3,fashion3k_3x3")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--space", type=json.loads)
    parser.add_argument("--search", type=json.loads, default={},
                        help='more keyword arguments of tfopt.search, e.g. \'{"ensemble": 3}\'')
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "tfopt_small_data"))
    args = parser.parse_args(argv)
    if args.label_smoothing is not None:
        from tfopt.tuning.hypermodels import FamilyHyperModel

        FamilyHyperModel.label_smoothing = args.label_smoothing
    for name in args.cases.split(","):
        for seed in map(int, args.seeds.split(",")):
            line = run_case(name, seed, args.out, args.space, args.search)
            line.update(label_smoothing=args.label_smoothing, space=args.space,
                        search=args.search)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
