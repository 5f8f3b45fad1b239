"""Text loaders: MR from the shared data, IMDB's folder layout, tokenization once."""

import numpy as np
import pytest

from tfopt.data import text
from tfopt.data.splits import Splits
from tfopt.errors import InputError


@pytest.mark.data
def test_mr_from_the_shared_data_dir(shared_data_dir):
    splits = text.load_mr(shared_data_dir)
    assert sum(splits.sizes().values()) == 10662
    assert splits.sizes()["test"] == 1067
    assert splits.class_names == ["negative", "positive"]
    assert abs(np.mean(splits.y_test) - 0.5) < 0.01
    everything = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
    assert any(line.startswith("simplistic , silly and tedious .") for line in everything)


def test_mr_corrupt_file_is_rejected(tmp_path):
    folder = tmp_path / "mr"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_text("a fine film .\n")
    (folder / "rt-polarity.neg").write_text("a dull film .\n")
    with pytest.raises(InputError, match="rt-polarity.pos is corrupt"):
        text.load_mr(tmp_path)


def test_imdb_reads_the_aclimdb_layout(tmp_path):
    root = tmp_path / "aclImdb"
    for part in ("train", "test"):
        for label in ("pos", "neg"):
            (root / part / label).mkdir(parents=True)
            for i in range(10):
                (root / part / label / f"{i}_7.txt").write_text(f"{label} review<br />{i}")
    (root / "README").write_text("IMDB")
    splits = text.load_imdb(tmp_path)
    assert splits.sizes() == {"train": 18, "val": 2, "test": 20}
    assert all("<br />" not in t for t in splits.x_test)
    assert sorted(set(splits.y_test)) == [0, 1]


def test_vectorize_adapts_on_train_only_and_pads():
    texts = np.array(["good movie", "bad movie", "good good fun", "bad plot"])
    splits = Splits(texts, np.array([1, 0, 1, 0]), np.array(["good plot"]), np.array([1]),
                    np.array(["unseen words here"]), np.array([0]), class_names=["n", "p"],
                    source="t", modality="text")
    splits = text.vectorize(splits, max_tokens=100, sequence_length=5)
    assert splits.x_train.shape == (4, 5) and splits.x_train.dtype == np.int32
    assert splits.vocabulary[:2] == ["", "[UNK]"]
    assert splits.x_test[0].tolist() == [1, 1, 1, 0, 0]  # out of vocabulary, then padding
