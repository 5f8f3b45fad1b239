"""Image loaders: fixed seeded splits, the offline MNIST fallback, IDX files, corrupt files."""

import gzip
import pathlib
import shutil

import numpy as np
import pytest

from tfopt.data import images
from tfopt.errors import InputError


def test_digits_splits_are_fixed_stratified_and_scaled():
    first, second = images.load_digits(), images.load_digits()
    assert first.sizes() == {"train": 1293, "val": 144, "test": 360}
    np.testing.assert_array_equal(first.y_test, second.y_test)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    assert first.x_train.dtype == np.uint8 and first.x_train.max() == 255
    assert first.input_shape == (8, 8, 1) and first.num_classes == 10
    assert np.bincount(first.y_test).min() >= 35  # every class is in the test split


def test_offline_mnist_falls_back_to_the_bundled_5k_loudly(tmp_path, caplog):
    with pytest.warns(UserWarning, match="5,000-digit"), caplog.at_level("WARNING", "tfopt"):
        splits = images.load_mnist(tmp_path)
    assert "bundled MNIST 5k" in splits.source
    assert splits.sizes() == {"train": 3600, "val": 400, "test": 1000}
    assert np.bincount(splits.y_test).tolist() == [100] * 10
    assert "NOT comparable" in caplog.text


def test_mnist_npz_in_the_data_dir_is_used_first(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    x, y = rng.integers(0, 255, (200, 28, 28), dtype=np.uint8), np.repeat(np.arange(10), 20)
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=x[:50], y_test=y[:50])
    splits = images.load_mnist(tmp_path)
    assert splits.sizes() == {"train": 180, "val": 20, "test": 50}
    assert str(folder / "mnist.npz") in splits.source


def test_corrupt_mnist_npz_is_named_in_the_error(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="mnist.npz is not a readable .npz"):
        images.load_mnist(tmp_path)


def test_idx_parser_reads_shape_and_values():
    values = np.arange(2 * 3 * 4, dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 3, 4))
    np.testing.assert_array_equal(images.parse_idx(header + values.tobytes()),
                                  values.reshape(2, 3, 4))


@pytest.mark.skipif(not pathlib.Path(images.FASHION_DEBIAN).is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
@pytest.mark.data
def test_fashion_mnist_from_the_debian_package():
    splits = images.load_fashion_mnist()
    assert splits.sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert splits.class_names[9] == "Ankle boot"
    assert np.bincount(splits.y_test).tolist() == [1000] * 10


@pytest.mark.skipif(not pathlib.Path(images.FASHION_DEBIAN).is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_corrupt_fashion_file_is_named_in_the_error(tmp_path):
    folder = tmp_path / "fashion-mnist"
    shutil.copytree(images.FASHION_DEBIAN, folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[100] = (data[100] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        images.load_fashion_mnist(tmp_path)


def test_cifar10_binary_batches_from_the_data_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rows = rng.integers(0, 255, (20, 3073), dtype=np.uint8)
        rows[:, 0] = np.arange(20) % 10
        (folder / name).write_bytes(rows.tobytes())
    splits = images.load_cifar10(tmp_path)
    assert splits.input_shape == (32, 32, 3)
    assert splits.sizes() == {"train": 90, "val": 10, "test": 20}


def test_offline_cifar10_says_what_to_do(tmp_path):
    with pytest.raises(InputError, match="TFOPT_OFFLINE"):
        images.load_cifar10(tmp_path)


def test_the_bundled_mnist_subset_ships_inside_the_package():
    import configparser

    assert images.BUNDLED_MNIST.parent == pathlib.Path(images.__file__).resolve().parent
    assert images.BUNDLED_MNIST.is_file()
    setup = configparser.ConfigParser()
    setup.read(pathlib.Path(images.__file__).resolve().parents[2] / "setup.cfg")
    assert images.BUNDLED_MNIST.name in setup["options.package_data"]["tfopt.data"]
