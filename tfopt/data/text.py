"""Text data sets: Movie Review polarity (Kim 2014's MR) and IMDB reviews."""

import numpy as np

from tfopt.data.download import check_sha256, download, find_local
from tfopt.data.splits import make_splits

MR_URL = "http://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
MR_SHA256 = {
    "rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
    "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
}
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SENTIMENT = ["negative", "positive"]


def load_mr(data_dir=None):
    """MR sentence polarity v1.0 (Pang & Lee 2005): 10,662 sentences, 10% held out for test."""
    names = list(MR_SHA256)
    folder = find_local(data_dir, ["mr", "rt-polaritydata"], names)
    if folder is None:
        folder = download("rt-polaritydata.tar.gz", MR_URL, extract=True) / "rt-polaritydata"
    texts, labels = [], []
    for label, name in ((1, "rt-polarity.pos"), (0, "rt-polarity.neg")):
        raw = (folder / name).read_bytes()
        check_sha256(raw, MR_SHA256[name], str(folder / name))
        # One sentence a line; not splitlines(), which also breaks at Latin-1's \x85.
        lines = raw.decode("latin-1").rstrip("\n").split("\n")
        texts += lines
        labels += [label] * len(lines)
    return make_splits(np.array(texts), np.array(labels), test_fraction=0.1, val_fraction=0.1,
                       class_names=SENTIMENT, source=f"MR polarity v1.0 from {folder}",
                       modality="text")


def load_imdb(data_dir=None):
    """IMDB reviews (Maas et al. 2011): the official 25,000/25,000 train/test split."""
    folder = find_local(data_dir, ["aclImdb", "imdb/aclImdb"], ["README"])
    if folder is None:
        folder = download("aclImdb_v1.tar.gz", IMDB_URL, extract=True) / "aclImdb"
    (x, y), (x_test, y_test) = (_read_review_folders(folder / part) for part in ("train", "test"))
    return make_splits(x, y, x_test=x_test, y_test=y_test, class_names=SENTIMENT,
                       source=f"IMDB reviews (aclImdb v1) from {folder}", modality="text")


def _read_review_folders(folder):
    texts, labels = [], []
    for label, name in ((0, "neg"), (1, "pos")):
        for path in sorted((folder / name).glob("*.txt")):
            texts.append(path.read_text(encoding="utf-8").replace("<br />", " "))
            labels.append(label)
    return np.array(texts), np.array(labels)


def vectorize(splits, *, max_tokens, sequence_length, vocabulary=None):
    """Tokenizes every split once with a `TextVectorization` adapted on the training texts,
    or with a given `vocabulary` (a list of tokens, as `get_vocabulary()` returns it).

    Raises:
        InputError: without TensorFlow, which `TextVectorization` runs on.
    """
    import keras

    from tfopt.backend import has_tensorflow
    from tfopt.errors import InputError

    if not has_tensorflow():
        raise InputError(
            "Text tasks need TensorFlow: keras.layers.TextVectorization (tokenizing, and the "
            "final model's string input) runs on it, and it is not installed (Keras backend "
            f"'{keras.backend.backend()}'). Install TensorFlow (pip install tensorflow) or use "
            "the TensorFlow backend (KERAS_BACKEND=tensorflow); image tasks run without it.")
    vectorizer = keras.layers.TextVectorization(
        max_tokens=None if vocabulary is not None else max_tokens, vocabulary=vocabulary,
        output_sequence_length=sequence_length)
    if vocabulary is None:
        vectorizer.adapt(splits.x_train, batch_size=1024)
    splits.x_test_raw = splits.x_test
    for part in ("train", "val", "test"):
        texts = getattr(splits, f"x_{part}")
        setattr(splits, f"x_{part}", np.asarray(vectorizer(texts), dtype="int32"))
    splits.vocabulary = vectorizer.get_vocabulary()
    return splits
