"""Search spaces: one keras-tuner `HyperModel` per model family.

`build(hp)` only maps hp -> factory kwargs -> factory -> compile. Every hp is
named after the kwarg it feeds and defaults to the factory default, so an
empty `HyperParameters()` builds the documented baseline. Batch size is tuned
in `fit`.
"""

import inspect

import keras
import keras_tuner as kt

from tfopt.data.pipeline import batched
from tfopt.training.batchnorm import CalibrateBatchNorm
from tfopt.training.schedule import CosineSchedule
from tfopt.training.strategy import build_training_state, clear_session
from tfopt.errors import InputError
from tfopt.models import BalancedAccuracy, build_textcnn, build_transformer, build_vgg
from tfopt.models.smoothing import SmoothedSparseCrossentropy

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def make_optimizer(name, learning_rate):
    """Keras optimizer by name; "sgd" is SGD with Nesterov momentum 0.9."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    return {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
            "rmsprop": keras.optimizers.RMSprop}[name](learning_rate)


class FamilyHyperModel(kt.HyperModel):
    """Shared compile and fit for the families; subclasses declare `model_kwargs(hp)`."""

    factory = None
    family_defaults = {}  # {hp name: default} of the model's own hps (`model_kwargs`)
    batch_sizes = (32, 64, 128, 256)
    default_batch_size = 128
    # On small data the default batch shrinks (to no less than the smallest choice) until an
    # epoch has this many steps: a 3,000-image folder's 3 trials of 3 epochs scored 84% test
    # at batch 32 against 81% at 128 (benchmarks/RESULTS.md).
    min_steps_per_epoch = 64
    learning_rates = (1e-4, 1e-2, 1e-3)  # min, max (log scale), default
    # Targets smoothed by this much (integer-label cross-entropy only). Off: on 3-trial
    # searches 0.1 changed test accuracy by less than the seed-to-seed spread and tripled the
    # calibration error (benchmarks/RESULTS.md); `benchmarks.small_data` sets it to compare.
    label_smoothing = 0.0
    # The learning-rate schedules a search may choose (`lr_schedule` hp), the default first:
    # "cosine" warms the rate up, then anneals it to a hundredth by the end of each `fit`
    # (`CosineSchedule`). Short trials learn less with it (benchmarks/RESULTS.md), so it is
    # tuned, not fixed.
    schedules = ("constant", "cosine")

    def __init__(self, input_shape, num_classes, *, loss="sparse_categorical_crossentropy",
                 metrics=("accuracy",), shuffle_seed=None, class_weight=None, balanced=False,
                 defaults=None, train_size=None, name=None, **kwargs):
        """`balanced` adds `BalancedAccuracy` to the metrics; `class_weight` goes to `fit`;
        `defaults` ({hp name: value}) replace the family's defaults, e.g. a task's own;
        `train_size` (training examples) sizes the default batch (`min_steps_per_epoch`)."""
        super().__init__(name=name or self.factory.__name__.replace("build_", ""), **kwargs)
        self.input_shape = tuple(input_shape)
        self.num_classes = int(num_classes)
        self.loss = loss
        self.metrics = list(metrics)
        self.shuffle_seed = shuffle_seed
        self.class_weight = class_weight
        self.balanced = balanced
        self.defaults = dict(defaults or {})
        self.train_size = train_size
        self.calibration_seconds = 0.0  # recomputing BN statistics, all fits together

    def compile_metrics(self):
        """The metrics of a new model (fresh metric objects for every model)."""
        return self.metrics + ([BalancedAccuracy(self.num_classes)] if self.balanced else [])

    def addable(self):
        """Factory keyword arguments a search space may add as hyperparameters: {name: default}."""
        return {}

    def model_kwargs(self, hp):
        raise NotImplementedError

    def build_model(self, hp):
        """Uncompiled model for `hp` (the factory's inputs are the data's shape)."""
        raise NotImplementedError

    def build(self, hp):
        model = self.build_model(hp)
        model.compile(optimizer=self._optimizer(hp), loss=self.training_loss(),
                      metrics=self.compile_metrics())
        return model

    def training_loss(self):
        """The task's loss, with `label_smoothing` when it is the integer-label cross-entropy."""
        if self.label_smoothing and self.loss == "sparse_categorical_crossentropy":
            return SmoothedSparseCrossentropy(self.label_smoothing)
        return self.loss

    def declare_hyperparameters(self, hp):
        """Declares the whole space (batch size and schedule included) without building a
        model."""
        self.model_kwargs(hp)
        self._optimizer_settings(hp)
        self.batch_size(hp)
        self.lr_schedule(hp)

    def _optimizer_settings(self, hp):
        """(optimizer name, learning rate), declared. Making no Keras object here keeps
        TensorFlow's context unstarted, which `MultiWorkerMirroredStrategy` needs (checking
        a space file before the strategy exists had failed with "Collective ops must be
        configured at program startup")."""
        optimizer = hp.Choice("optimizer", list(OPTIMIZERS),
                              default=self.defaults.get("optimizer", "adam"))
        low, high, default = self.learning_rates
        learning_rate = hp.Float("learning_rate", low, high, sampling="log",
                                 default=self.defaults.get("learning_rate", default))
        return optimizer, learning_rate

    def _optimizer(self, hp):
        return make_optimizer(*self._optimizer_settings(hp))

    def batch_size(self, hp):
        """The tuned batch size (declared here and read in `fit`)."""
        default = self.defaults.get("batch_size") or self.sized_batch_size()
        return hp.Choice("batch_size", list(self.batch_sizes), default=default)

    def sized_batch_size(self):
        """The family's default batch size, or on small data the largest smaller choice
        that gives `min_steps_per_epoch` steps an epoch (else the smallest choice)."""
        if not self.train_size:
            return self.default_batch_size
        smaller = sorted(size for size in self.batch_sizes if size <= self.default_batch_size)
        fitting = [size for size in smaller if self.train_size / size >= self.min_steps_per_epoch]
        return fitting[-1] if fitting else smaller[0]

    def lr_schedule(self, hp):
        """The tuned learning-rate schedule (declared here and read in `fit_batched`)."""
        if len(self.schedules) == 1:
            return self.schedules[0]
        return hp.Choice("lr_schedule", list(self.schedules),
                         default=self.defaults.get("lr_schedule", self.schedules[0]))

    def fit(self, hp, model, x, *args, validation_data=None, **kwargs):
        """Batches the unbatched `tf.data` splits with the tuned batch size, then fits.

        `x` and `validation_data` are unbatched datasets from
        `tfopt.data.to_dataset`; `**kwargs` carry the tuner's callbacks and epochs.
        """
        batch_size = self.batch_size(hp)
        train = batched(x, batch_size, shuffle=True, seed=self.shuffle_seed,
                        drop_remainder=drop_last_batch(x, batch_size))
        if validation_data is not None:
            validation_data = batched(validation_data, batch_size)
        return self.fit_batched(hp, model, train, *args, validation_data=validation_data,
                                **kwargs)

    def fit_batched(self, hp, model, train, *args, **kwargs):
        """`model.fit` on batched data, with the class weights when there are any, and
        BatchNormalization statistics recomputed before each validation and at the end
        (`CalibrateBatchNorm`)."""
        if self.class_weight:
            kwargs.setdefault("class_weight", self.class_weight)
        kwargs["callbacks"] = self.with_calibration(kwargs.get("callbacks"), train) + \
            ([CosineSchedule()] if self.lr_schedule(hp) == "cosine" else [])
        build_training_state(model, train)
        return model.fit(train, *args, shuffle=False, **kwargs)

    def with_calibration(self, callbacks, train):
        """`callbacks` and a `CalibrateBatchNorm` on `train` last (after early stopping has
        put back its best weights, which were calibrated when they were validated). Its
        seconds add up in `calibration_seconds` (trial_stats.json's per trial)."""
        calibrate = CalibrateBatchNorm(train, on_seconds=self._add_calibration_seconds)
        return [*(callbacks or []), calibrate]

    def _add_calibration_seconds(self, seconds):
        self.calibration_seconds += seconds


def drop_last_batch(dataset, batch_size):
    """Whether training leaves out each epoch's last, smaller batch: on JAX, where that batch's
    new shape compiles the train step a second time in every trial (measured on an H100:
    a 4-5 s first epoch instead of 0.8 s). The data are reshuffled each epoch, so other
    examples sit out each time. Kept on TensorFlow (not measured to help there)."""
    size = len(dataset) if hasattr(dataset, "__len__") else int(dataset.cardinality())
    return keras.backend.backend() == "jax" and size % batch_size != 0 and size > batch_size


class VGGHyperModel(FamilyHyperModel):
    """Search space of `build_vgg`.

    | hp              | type  | range                  | default |
    |-----------------|-------|------------------------|---------|
    | blocks          | int   | 1 .. 3                 | 2       |
    | filters         | int   | 16, 32                 | 32      |
    | convs_per_block | int   | 1 .. 2                 | 1       |
    | dense_units     | int   | 64, 128, 256           | 128     |
    | dropout         | float | 0.0 .. 0.5, step 0.1   | 0.3     |
    | l2              | float | 1e-6 .. 1e-3, log      | 1e-4    |
    | augment         | float | 0.0 .. 0.1, step 0.05  | 0.0     |
    | optimizer       | str   | adam, adamw, sgd, rmsprop | adam |
    | learning_rate   | float | 1e-4 .. 1e-2, log      | 1e-3    |
    | batch_size      | int   | 32, 64, 128, 256       | 128     |
    | lr_schedule     | str   | constant, cosine       | constant |

    `flip=True` adds horizontal flips to the augmentation (e.g. CIFAR-10, not digits).
    A task may replace some defaults (`Task.defaults`): mnist starts from one block of 16
    filters (as accurate there and 2-4x faster an epoch), fashion_mnist from two blocks of
    16 and 32 (better in its default budget's time). On small data
    the default batch is smaller (`FamilyHyperModel.min_steps_per_epoch`).
    """

    family_defaults = dict(blocks=2, filters=32, convs_per_block=1, dense_units=128, dropout=0.3,
                           l2=1e-4, augment=0.0)
    factory = staticmethod(build_vgg)

    def __init__(self, input_shape, num_classes, *, flip=False, **kwargs):
        self.flip = flip
        super().__init__(input_shape, num_classes, **kwargs)

    def model_kwargs(self, hp):
        d = {**self.family_defaults, **self.defaults}
        return dict(
            blocks=hp.Int("blocks", 1, 3, default=d["blocks"]),
            filters=hp.Choice("filters", [16, 32], default=d["filters"]),
            convs_per_block=hp.Int("convs_per_block", 1, 2, default=d["convs_per_block"]),
            dense_units=hp.Choice("dense_units", [64, 128, 256], default=d["dense_units"]),
            dropout=hp.Float("dropout", 0.0, 0.5, step=0.1, default=d["dropout"]),
            l2=hp.Float("l2", 1e-6, 1e-3, sampling="log", default=d["l2"]),
            augment=hp.Float("augment", 0.0, 0.1, step=0.05, default=d["augment"]),
        )

    def addable(self):
        return {"flip": self.flip}

    def build_model(self, hp):
        return build_vgg(self.input_shape, self.num_classes, flip=hp.values.get("flip", self.flip),
                         **self.model_kwargs(hp))


class TextHyperModel(FamilyHyperModel):
    """Shared shape handling for the text families (input: token ids)."""

    def __init__(self, input_shape, num_classes, *, vocab_size, **kwargs):
        self.vocab_size = int(vocab_size)
        super().__init__(input_shape, num_classes, **kwargs)

    def build_model(self, hp):
        return self.factory(self.input_shape[0], self.vocab_size, self.num_classes,
                            **self.model_kwargs(hp))


class TextCNNHyperModel(TextHyperModel):
    """Search space of `build_textcnn` (Kim 2014).

    | hp            | type  | range                   | default |
    |---------------|-------|-------------------------|---------|
    | embedding_dim     | int   | 128, 300                | 128     |
    | embedding_dropout | float | 0.0 .. 0.5, step 0.25   | 0.25    |
    | kernel_sizes      | str   | "3,4,5", "2,3,4", "3,5,7" | "3,4,5" |
    | filters           | int   | 50, 100, 200            | 100     |
    | dropout           | float | 0.3 .. 0.6, step 0.1    | 0.5     |
    | l2                | float | 0, 1e-5, 1e-4, 1e-3     | 0       |
    | optimizer         | str   | adam, adamw, sgd, rmsprop | adam  |
    | learning_rate     | float | 1e-4 .. 3e-3, log       | 5e-4    |
    | batch_size        | int   | 32, 50, 64, 128         | 50      |
    | lr_schedule       | str   | constant, cosine        | constant |

    The default word vectors are 128 wide, not Kim's 300: on MR, on one core, an epoch took
    10 s instead of 23-42 s (Adam updates the whole embedding every step), and validation
    accuracy peaked at the same 0.7583 at epoch 3 (one seed; `benchmarks/RESULTS.md`).

    The learning-rate range stops at 3e-3: on MR, faster rates peak after one
    epoch and their validation score is mostly luck.
    """

    family_defaults = dict(kernel_sizes="3,4,5", embedding_dim=128, embedding_dropout=0.25,
                           filters=100, dropout=0.5, l2=0.0)
    factory = staticmethod(build_textcnn)
    batch_sizes = (32, 50, 64, 128)
    default_batch_size = 50
    learning_rates = (1e-4, 3e-3, 5e-4)

    def model_kwargs(self, hp):
        d = {**self.family_defaults, **self.defaults}
        sizes = hp.Choice("kernel_sizes", ["3,4,5", "2,3,4", "3,5,7"], default=d["kernel_sizes"])
        return dict(
            embedding_dim=hp.Choice("embedding_dim", [128, 300], default=d["embedding_dim"]),
            embedding_dropout=hp.Float("embedding_dropout", 0.0, 0.5, step=0.25,
                                       default=d["embedding_dropout"]),
            kernel_sizes=tuple(int(k) for k in sizes.split(",")),
            filters=hp.Choice("filters", [50, 100, 200], default=d["filters"]),
            dropout=hp.Float("dropout", 0.3, 0.6, step=0.1, default=d["dropout"]),
            l2=hp.Choice("l2", [0.0, 1e-5, 1e-4, 1e-3], default=d["l2"]),
        )


class TransformerHyperModel(TextHyperModel):
    """Search space of `build_transformer`.

    | hp            | type  | range                  | default |
    |---------------|-------|------------------------|---------|
    | embed_dim     | int   | 32, 64, 128            | 64      |
    | num_heads     | int   | 2, 4                   | 2       |
    | ff_dim        | int   | 64, 128, 256           | 128     |
    | num_blocks    | int   | 1 .. 2                 | 1       |
    | dropout       | float | 0.0 .. 0.3, step 0.1   | 0.1     |
    | optimizer     | str   | adam, adamw, sgd, rmsprop | adam |
    | learning_rate | float | 1e-4 .. 1e-2, log      | 1e-3    |
    | batch_size    | int   | 32, 64, 128            | 32      |
    | lr_schedule   | str   | constant, cosine       | constant |
    """

    family_defaults = dict(embed_dim=64, num_heads=2, ff_dim=128, num_blocks=1, dropout=0.1)
    factory = staticmethod(build_transformer)
    batch_sizes = (32, 64, 128)
    default_batch_size = 32

    def model_kwargs(self, hp):
        d = {**self.family_defaults, **self.defaults}
        return dict(
            embed_dim=hp.Choice("embed_dim", [32, 64, 128], default=d["embed_dim"]),
            num_heads=hp.Choice("num_heads", [2, 4], default=d["num_heads"]),
            ff_dim=hp.Choice("ff_dim", [64, 128, 256], default=d["ff_dim"]),
            num_blocks=hp.Int("num_blocks", 1, 2, default=d["num_blocks"]),
            dropout=hp.Float("dropout", 0.0, 0.3, step=0.1, default=d["dropout"]),
        )


class CustomHyperModel(FamilyHyperModel):
    """A user's `build(hp)` function or `keras_tuner.HyperModel`, fed by tfopt.

    `build` may also take `input_shape` and `num_classes` keyword arguments
    (the data's: images scaled to [0, 1], or token ids). A model it returns
    uncompiled is compiled with Adam (learning rate 1e-3) and the task's loss
    and metrics. Batch size is the `batch_size` hp when `build` declares one,
    else 128. A `HyperModel`'s own `fit` gets the batched data.
    """

    default_batch_size = 128
    schedules = ("constant",)

    def __init__(self, user, input_shape, num_classes, **kwargs):
        if not (isinstance(user, kt.HyperModel) or callable(user)):
            raise InputError(f"model must be a family name, a build(hp) function or a "
                             f"keras_tuner.HyperModel. Received: {user!r}")
        self.user = user
        super().__init__(input_shape, num_classes, name=custom_name(user), **kwargs)

    def build_model(self, hp):
        build = self.user.build if isinstance(self.user, kt.HyperModel) else self.user
        parameters = inspect.signature(build).parameters
        extra = {key: value for key, value in (("input_shape", self.input_shape),
                                                ("num_classes", self.num_classes))
                 if key in parameters}
        model = build(hp, **extra)
        if not isinstance(model, keras.Model):
            raise InputError(f"The custom build(hp) must return a keras.Model. "
                             f"Received: {type(model).__name__}")
        return model

    def build(self, hp):
        model = self.build_model(hp)
        if not getattr(model, "compiled", False):
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=self.loss,
                          metrics=self.compile_metrics())
        return model

    def declare_hyperparameters(self, hp):
        self.build_model(hp)
        clear_session()

    def batch_size(self, hp):
        return hp.values.get("batch_size", self.default_batch_size)

    def fit_batched(self, hp, model, train, *args, **kwargs):
        if isinstance(self.user, kt.HyperModel) and type(self.user).fit is not kt.HyperModel.fit:
            if self.class_weight:
                kwargs.setdefault("class_weight", self.class_weight)
            kwargs.setdefault("shuffle", False)  # `train` is shuffled each epoch already
            kwargs["callbacks"] = self.with_calibration(kwargs.get("callbacks"), train)
            return self.user.fit(hp, model, train, *args, **kwargs)
        return super().fit_batched(hp, model, train, *args, **kwargs)


def custom_name(custom):
    """A name for the user's build function or HyperModel (None when there is none)."""
    if custom is None:
        return None
    return getattr(custom, "__name__", None) or getattr(custom, "name", None) or \
        type(custom).__name__


HYPERMODELS = {"vgg": VGGHyperModel, "textcnn": TextCNNHyperModel,
               "transformer": TransformerHyperModel}


def base_space(model):
    """A family's whole declared search space, and what a space file may add:
    (`kt.HyperParameters`, {name: default})."""
    from tfopt.choices import MODELS

    kwargs = {} if MODELS[model] == "image" else {"vocab_size": 100}
    hypermodel = HYPERMODELS[model]((32, 32, 1) if MODELS[model] == "image" else (16,), 2,
                                    **kwargs)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    return hp, hypermodel.addable()


def make_hypermodel(model, data, *, custom=None, flip=False, **kwargs):
    """The search's HyperModel: a family's (by name) or the user's `custom` build/HyperModel,
    on `data`'s shape; `kwargs` go to `FamilyHyperModel` (loss, metrics, class_weight,
    balanced, shuffle_seed)."""
    if custom is not None:
        return CustomHyperModel(custom, data.input_shape, data.num_classes, **kwargs)
    extra = {"flip": flip} if data.modality == "image" else {"vocab_size": len(data.vocabulary)}
    return HYPERMODELS[model](data.input_shape, data.num_classes, **kwargs, **extra)
