"""Shared fixtures: seeds, a clean Keras session, offline data and tiny synthetic data."""

import logging
import os
import pathlib

import keras
import numpy as np
import pytest

from tfopt.data.splits import Splits

os.environ["TFOPT_OFFLINE"] = "1"  # the test suite never downloads
SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session", autouse=True)
def one_retraining():
    """Searches in this process retrain their best configuration once unless a test asks for
    more: small data's default of 3 seeds (`tfopt.data.tasks.SEARCH_DEFAULTS`) would triple
    every final stage of the suite. `digits_run` (tests/test_runner.py) keeps the real
    default; tests/test_config.py checks its rule."""
    from tfopt.data import tasks

    real = tasks.SEARCH_DEFAULTS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks, "SEARCH_DEFAULTS", tuple(row[:4] + (1,) for row in real))
        yield real  # the real defaults, for a test that restores them


@pytest.fixture(autouse=True)
def clean_keras():
    keras.utils.set_random_seed(0)
    yield
    # Keras' state reset, without its full garbage collection (0.3-0.4 s after every test
    # with TensorFlow loaded, measured); Python's own collector still runs as usual.
    keras.backend.clear_session(free_memory=False)
    keras.mixed_precision.set_global_policy("float32")  # a search may have set bfloat16


@pytest.fixture(autouse=True)
def fresh_logger():
    """Each test starts with the `tfopt` logger as a new process has it (no console yet)."""
    yield
    from tfopt.log import logger

    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate, logger.level = True, logging.NOTSET


# Fixtures that run a whole search, shared by many tests: under pytest-xdist
# (`--dist loadgroup`) the tests of each run on one worker, so each search runs once.
SHARED_RUNS = ("finished_run", "digits_run", "text_run", "mr_run", "jax_run", "served_run")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        for name in SHARED_RUNS:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))
                break


@pytest.fixture(scope="session")
def shared_data_dir():
    """The shared real data sets (`$TFOPT_DATA_DIR`, else ../shared/datasets)."""
    path = pathlib.Path(os.environ.get("TFOPT_DATA_DIR") or SHARED)
    if not (path / "mr").is_dir():
        pytest.skip(f"shared data sets not found at {path}")
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """A finished 3-trial random search on digits with every final-stage option on
    (2 seeds, an ensemble of 2, TFLite export); tests only read it (copy to change it).
    Batches of 128 (11 steps an epoch, not the small-data default's 41): it trains 7 times."""
    import tfopt

    out = tmp_path_factory.mktemp("runs") / "digits"
    return tfopt.search("digits", tuner="random", max_trials=3, epochs=2, out=str(out),
                        space={"batch_size": 128}, seeds=2, ensemble=2, export=("tflite",),
                        verbose=0)


@pytest.fixture(scope="session")
def digits_data():
    from tfopt.data.images import load_digits

    return load_digits()


def _learnable_images(n, rng):
    """8x8 images whose label (0-2) is the brightest third of the image."""
    x = rng.integers(0, 60, size=(n, 8, 8, 1)).astype(np.uint8)
    y = rng.integers(0, 3, size=n)
    for i, label in enumerate(y):
        x[i, :, label * 3:label * 3 + 2] += 180
    return x, y.astype("int32")


@pytest.fixture(scope="session")
def tiny_images():
    """Tiny synthetic image `Splits` (3 classes, 8x8x1) that a CNN learns in an epoch."""
    rng = np.random.default_rng(0)
    (x, y), (xv, yv), (xt, yt) = (_learnable_images(n, rng) for n in (192, 48, 48))
    return Splits(x, y, xv, yv, xt, yt, class_names=["a", "b", "c"], source="synthetic",
                  modality="image")


@pytest.fixture(scope="session")
def tiny_text():
    """Tiny synthetic token-id `Splits` (2 classes): class 1 contains token 5."""
    rng = np.random.default_rng(0)

    def make(n):
        x = rng.integers(6, 50, size=(n, 12)).astype("int32")
        y = rng.integers(0, 2, size=n).astype("int32")
        x[y == 1, 3] = 5
        return x, y

    (x, y), (xv, yv), (xt, yt) = make(128), make(32), make(32)
    return Splits(x, y, xv, yv, xt, yt, class_names=["neg", "pos"], source="synthetic",
                  modality="text", vocabulary=[str(i) for i in range(50)])
