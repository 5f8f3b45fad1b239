"""Task registry: name -> data loader, modality, default model, loss and default budget;
and a `Task` made for the user's own data."""

import dataclasses
import functools
import pathlib
import re

from tfopt.data import images, text
from tfopt.choices import DEFAULT_MODELS, unknown_name_message
from tfopt.errors import InputError


@dataclasses.dataclass(frozen=True)
class Task:
    """A built-in task, or the user's data (`user_task`).

    Text tasks are tokenized to `sequence_length` ids over `max_tokens` words
    (0: a length covering about 95% of the training texts).
    The default search budget depends on the data's size, see `search_defaults`.
    """

    name: str
    description: str
    modality: str
    load: callable
    default_model: str
    flip: bool = False
    max_tokens: int = 20_000
    sequence_length: int = 0
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple = ("accuracy",)
    # (hp name, value) pairs: the task's known-good first trial, in place of the defaults
    # of its default model family (measured: benchmarks/RESULTS.md).
    defaults: tuple = ()


# One block of 16 filters reaches the default VGG's accuracy on 28x28 grey images in a
# quarter to half of its time (one core, one seed): Fashion-MNIST, 3 epochs, val 0.909 /
# test 0.8967 in 65 s against val 0.9097 / test 0.8968 in 251 s; the MNIST 5k subset,
# 5 epochs, peak val 0.965 for both, in 11 s against 26 s.
SMALL_GREY_IMAGES = (("blocks", 1), ("filters", 16), ("dense_units", 128), ("dropout", 0.1),
                     ("batch_size", 64))
# Fashion-MNIST's default budget (20 minutes) trains its defaults for about 12 epochs with the
# learning rate annealed (`tfopt.tuning.budget.SEARCH_SHARE`). There two blocks (16 and 32
# filters) do better in the same time (2 cores, cosine schedule, full training split less
# 6,000): one block, 16 epochs: test 0.9184 in 479 s; two blocks, 12 epochs: 0.9226 in 486 s.
FASHION_IMAGES = (("blocks", 2), ("filters", 16), ("dense_units", 128), ("dropout", 0.2),
                  ("batch_size", 64))

TASKS = {
    task.name: task
    for task in [
        Task("mnist", "handwritten digits, 28x28 grey (70,000; offline: bundled 5,000)",
             "image", images.load_mnist, "vgg", defaults=SMALL_GREY_IMAGES),
        Task("fashion_mnist", "Zalando clothing, 28x28 grey (70,000)",
             "image", images.load_fashion_mnist, "vgg", defaults=FASHION_IMAGES),
        Task("cifar10", "objects, 32x32 colour (60,000)",
             "image", images.load_cifar10, "vgg", flip=True),
        Task("digits", "scikit-learn digits, 8x8 grey (1,797)",
             "image", images.load_digits, "vgg"),
        Task("mr", "Movie Review sentence polarity, Kim (2014)'s MR (10,662)",
             "text", text.load_mr, "textcnn", sequence_length=56),
        Task("imdb", "IMDB movie reviews (50,000)",
             "text", text.load_imdb, "textcnn", sequence_length=400),
    ]
}

# (training examples up to, epochs, max_trials, budget seconds, final seeds): Hyperband's
# max_epochs and a trial cap that lets its first bracket finish. Small data trains in seconds:
# 40 trials end in minutes, and the final model averages 3 retrainings of the best
# configuration with its checkpoint where they are cheap (`tfopt.tuning.budget.cheap_seeds`;
# not MR's, whose epochs take 15-20 s). On the 3,000-image Fashion-MNIST folder, 3 trials of
# 3 epochs: 0.845 / 0.857 test against 0.825 / 0.848 with one (benchmarks/RESULTS.md). Larger data gets a 20-minute budget instead (Hyperband's 13
# trials of up to 9 epochs on Fashion-MNIST were estimated at 79 min on 2 cores); within it the
# plan decides whether to search or to train the defaults (`tfopt.tuning.plan.make_plan`).
SEARCH_DEFAULTS = ((20_000, 27, 40, None, 3), (float("inf"), 9, 13, 1200.0, 1))


def search_defaults(train_size):
    """(epochs, max_trials, budget seconds or None, seeds) of the default search on
    `train_size` training examples. The budget applies when none of epochs, max_trials and
    budget is given; the seeds (retrainings of the best configuration, averaged into the
    final model) when seeds is not given and there is no ensemble."""
    return next(row[1:] for row in SEARCH_DEFAULTS if train_size <= row[0])


def get_task(name):
    """Returns the registered `Task` called `name`.

    Raises:
        InputError: for an unknown name, listing the known ones and a close match.
    """
    if name not in TASKS:
        raise InputError(unknown_name_message("task", name, TASKS))
    return TASKS[name]


def user_task(path, **options):
    """A `Task` for the user's own data at `path`: an image or text folder, a CSV/TSV/JSONL
    file or an .npz (`options` go to `tfopt.data.user_data.load_user_data`).

    Raises:
        InputError: if `path` does not exist or is of no kind tfopt reads.
    """
    from tfopt.data import user_data

    modality = user_data.sniff_modality(path)
    stem = pathlib.Path(path).expanduser().resolve().stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "data"
    load = functools.partial(user_data.load_user_data, path, **options)
    return Task(name, f"your data at {path}", modality, lambda data_dir: load(),
                DEFAULT_MODELS[modality])


def load_data(task, data_dir=None, *, vocabulary=None, sequence_length=None):
    """Loads, splits and (for text) tokenizes a task's data once; returns `Splits`.

    Own text data is tokenized to a length that covers about 95% of its texts;
    `vocabulary` and `sequence_length` (fine-tuning) replace the ones learned
    from the training texts.
    """
    from tfopt.data.download import resolve_data_dir
    from tfopt.data.user_data import suggest_sequence_length

    splits = task.load(resolve_data_dir(data_dir))
    if splits.modality != task.modality:
        raise InputError(f"{task.description} holds {splits.modality} data, expected "
                         f"{task.modality}.")
    if task.modality == "text":
        length = sequence_length or task.sequence_length or suggest_sequence_length(
            splits.x_train)
        splits = text.vectorize(splits, max_tokens=task.max_tokens, sequence_length=length,
                                vocabulary=vocabulary)
    return splits
