"""Fixed, seeded train/validation/test splits shared by every trial of a search."""

import dataclasses

import numpy as np
from sklearn.model_selection import train_test_split

# Splits never depend on the search seed, so runs stay comparable.
SPLIT_SEED = 20140825


@dataclasses.dataclass
class Splits:
    """A task's data, split once and preprocessed once.

    Images are `uint8` arrays `(n, height, width, channels)`; text is an
    `int32` array of token ids `(n, sequence_length)` with its `vocabulary`.
    Labels are `int32` class indices. `x_test_raw` keeps the test texts as
    they were before tokenizing (for text tasks), so the final model can be
    checked on raw input.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    source: str
    modality: str
    vocabulary: list = None
    x_test_raw: np.ndarray = None
    notes: list = dataclasses.field(default_factory=list)

    def train_and_val(self):
        """(x, y) of the training and validation splits together (for retraining)."""
        return (np.concatenate([self.x_train, self.x_val]),
                np.concatenate([self.y_train, self.y_val]))

    @property
    def raw_test(self):
        """Test inputs as a user would give them: raw texts, or uint8 images."""
        return self.x_test if self.x_test_raw is None else self.x_test_raw

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    def sizes(self):
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def split_off(x, y, fraction):
    """Stratified, seeded split of `fraction` of (x, y); returns (x_a, y_a, x_b, y_b)."""
    x_a, x_b, y_a, y_b = train_test_split(
        x, y, test_size=fraction, stratify=y, random_state=SPLIT_SEED
    )
    return x_a, y_a, x_b, y_b


def make_splits(x, y, *, x_test=None, y_test=None, test_fraction=0.2, val_fraction=0.1, **info):
    """Builds `Splits`, carving validation (and test, when none is given) from (x, y)."""
    if x_test is None:
        x, y, x_test, y_test = split_off(x, y, test_fraction)
    x_train, y_train, x_val, y_val = split_off(x, y, val_fraction)
    return Splits(x_train, np.asarray(y_train, "int32"), x_val, np.asarray(y_val, "int32"),
                  x_test, np.asarray(y_test, "int32"), **info)


@dataclasses.dataclass(frozen=True)
class Folds:
    """K stratified folds of the training and validation splits together (the test split
    stays out): fold k validates on `indices[k][1]` and trains on the rest. Splits never
    depend on the search seed (`SPLIT_SEED`), so every configuration meets the same folds."""

    x: np.ndarray
    y: np.ndarray
    modality: str
    indices: tuple  # ((train rows, validation rows), ...) of (x, y)

    def __len__(self):
        return len(self.indices)

    def datasets(self, k):
        """(train, validation) of fold `k` as unbatched datasets (`to_dataset`)."""
        from tfopt.data.pipeline import to_dataset

        train, val = self.indices[k]
        return (to_dataset(self.x[train], self.y[train], self.modality),
                to_dataset(self.x[val], self.y[val], self.modality))

    def sizes(self, k=0):
        """Examples fold `k` trains and validates on."""
        train, val = self.indices[k]
        return {"train": len(train), "val": len(val)}


def make_folds(splits, k):
    """`Folds` of `splits`' training and validation data in `k` stratified parts.

    Raises:
        InputError: if `k` is below 2 or a class has fewer than `k` examples.
    """
    from sklearn.model_selection import StratifiedKFold

    from tfopt.errors import InputError

    x, y = splits.train_and_val()
    counts = np.bincount(y, minlength=splits.num_classes)
    if k < 2 or counts.min() < k:
        rarest = splits.class_names[int(counts.argmin())]
        raise InputError(f"cv must be at least 2 and at most the examples of the rarest class "
                         f"in train+validation ({counts.min()}, class '{rarest}'), so that every "
                         f"fold holds every class. Received: cv={k}")
    folds = StratifiedKFold(k, shuffle=True, random_state=SPLIT_SEED).split(np.zeros(len(y)), y)
    return Folds(x, y, splits.modality, tuple((train, val) for train, val in folds))
