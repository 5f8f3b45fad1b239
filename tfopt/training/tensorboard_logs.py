"""TensorBoard logs on every Keras backend, and reading scalars back.

With the TensorFlow backend, trials log with Keras' own `TensorBoard` callback
and keras-tuner gives each trial its folder and HParams. On other backends
(JAX), tfopt writes the same event files with TensorBoard's own TF-free writer
(`EventFileWriter` and summary protos, as `torch.utils.tensorboard` does):
`tensorboard_callback`'s `TensorBoard`, and the `TrialLogs` tuner mixin for the
per-trial folders and HParams.
"""

import contextlib
import importlib.util
import struct
import pathlib
import time

import keras

from tfopt.backend import notice

__all__ = ["EventWriter", "HParams", "TensorBoard", "TrialLogs", "read_scalars",
           "tensorboard_callback", "trial_log_name", "write_images", "write_text"]

NO_TENSORBOARD = ("TensorBoard is not installed: no TensorBoard logs or learning curves "
                  "(pip install tensorboard to get them)")


def has_tensorboard():
    """Whether the `tensorboard` package can be imported."""
    return importlib.util.find_spec("tensorboard") is not None


def tensorboard_callback(log_dir):
    """A trial's TensorBoard callback writing per-epoch scalars under `log_dir`.

    Keras' own with the TensorFlow backend; elsewhere this module's TF-free
    `TensorBoard` (same folders and tags). Without the tensorboard package, a
    callback that does nothing (after a one-time notice).
    """
    if keras.backend.backend() == "tensorflow":
        return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False,
                                           profile_batch=0)
    if not has_tensorboard():
        notice(NO_TENSORBOARD)
        return keras.callbacks.Callback()
    return TensorBoard(log_dir)


class EventWriter:
    """Appends summaries to a new event file in `log_dir` (TensorBoard's own writer)."""

    def __init__(self, log_dir):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._events = EventFileWriter(str(log_dir))

    def add(self, summary, step=0):
        """Writes a `tensorboard.compat.proto.summary_pb2.Summary` at `step`."""
        from tensorboard.compat.proto import event_pb2

        self._events.add_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                               summary=summary))

    def flush(self):
        self._events.flush()

    def close(self):
        self._events.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _SummaryWriter(EventWriter):
    """An `EventWriter` that `_Summaries` writes to inside `as_default()`, as
    `tf.summary` writers work."""

    def __init__(self, log_dir, summaries):
        super().__init__(log_dir)
        self._summaries = summaries

    @contextlib.contextmanager
    def as_default(self, step=None):
        previous, self._summaries.default_writer = self._summaries.default_writer, self
        try:
            yield self
        finally:
            self._summaries.default_writer = previous


class _Summaries:
    """The part of `tf.summary` that Keras' `TensorBoard` uses when logging per epoch."""

    def __init__(self):
        self.default_writer = None

    def create_file_writer(self, log_dir):
        return _SummaryWriter(log_dir, self)

    def scalar(self, name, data, step=None):
        """Writes to the default writer; like `tf.summary`, a no-op without one."""
        if self.default_writer is None:
            return False
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb

        value = float(keras.ops.convert_to_numpy(data))
        self.default_writer.add(scalar_pb(name, value), int(keras.ops.convert_to_numpy(step)))
        return True


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' `TensorBoard` callback writing through TensorBoard's own event writer,
    so it needs no TensorFlow: the same `train`/`validation` folders and
    `epoch_loss`, `epoch_accuracy`, ... tags, per epoch only (no graph,
    histograms, images or profiling).
    """

    def __init__(self, log_dir="logs"):
        super().__init__(log_dir=str(log_dir), write_graph=False, profile_batch=0)

    @property
    def summary(self):
        if self._summary_module is None:
            self._summary_module = _Summaries()
        return self._summary_module


def trial_log_name(trial_id):
    """The TensorBoard run folder of a trial under the search's `logs/`."""
    return f"trial_{trial_id}"


class TrialLogs:
    """Tuner mixin: per-trial TensorBoard folders and HParams on every Keras backend.

    keras-tuner gives each `TensorBoard` callback the folder
    `<log_dir>/<trial_id>/execution<k>` and adds an HParams callback only with
    the TensorFlow backend (`Tuner._configure_tensorboard_dir`); this does the
    same on the others, writing HParams without TensorFlow. The folder is
    `<log_dir>/trial_<trial_id>` instead, so TensorBoard's run names say which
    trial they are (`trial_03/train`); an `execution` other than 0 (a
    cross-validation fold's name) adds a level: `trial_03/fold_2/validation`.
    """

    def _get_tensorboard_dir(self, logdir, trial_id, execution):
        run = pathlib.Path(logdir) / trial_log_name(trial_id)
        return str(run if execution == 0 else run / str(execution))

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        if keras.backend.backend() == "tensorflow":
            return super()._configure_tensorboard_dir(callbacks, trial, execution)
        for callback in list(callbacks):
            if isinstance(callback, keras.callbacks.TensorBoard):
                callback.log_dir = self._get_tensorboard_dir(callback.log_dir, trial.trial_id,
                                                             execution)
                callbacks.append(HParams(callback.log_dir, trial))


class HParams(keras.callbacks.Callback):
    """Writes a trial's hyperparameter values (HParams dashboard) to `log_dir` when
    training begins, and the session's end when it ends, as
    `tensorboard.plugins.hparams.api.KerasCallback` does, without TensorFlow."""

    def __init__(self, log_dir, trial):
        super().__init__()
        self.log_dir, self.trial_id = str(log_dir), trial.trial_id
        hyperparameters = trial.hyperparameters
        self.values = {hp.name: hyperparameters.values[hp.name] for hp in hyperparameters.space
                       if hyperparameters.values.get(hp.name) is not None}
        self._writer = None

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import summary_v2

        self._writer = EventWriter(self.log_dir)
        self._writer.add(summary_v2.hparams_pb(self.values, trial_id=self.trial_id))

    def on_train_end(self, logs=None):
        if self._writer is None:
            return
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

        end = plugin_data_pb2.HParamsPluginData(session_end_info=plugin_data_pb2.SessionEndInfo(
            status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time()))
        summary = summary_pb2.Summary()
        summary.value.add(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                          metadata=metadata.create_summary_metadata(end))
        self._writer.add(summary)
        self._writer.close()
        self._writer = None


def write_text(log_dir, tag, markdown, step=0):
    """Writes a Markdown text summary (TensorBoard's Text tab) under `log_dir`."""
    if not has_tensorboard():
        notice(NO_TENSORBOARD)
        return
    from tensorboard.plugins.text.summary_v2 import text_pb

    with EventWriter(log_dir) as writer:
        writer.add(text_pb(tag, markdown), step)


def write_images(log_dir, images, step=0):
    """Writes {tag: PNG bytes} as images (TensorBoard's Images tab) under `log_dir`,
    in the format of `tf.summary.image`."""
    if not has_tensorboard():
        notice(NO_TENSORBOARD)
        return
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.image import metadata
    from tensorboard.util import tensor_util

    summary = summary_pb2.Summary()
    for tag, png in images.items():
        width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
        summary.value.add(
            tag=tag, metadata=metadata.create_summary_metadata(display_name=None,
                                                               description=None),
            tensor=tensor_util.make_tensor_proto([str(width).encode(), str(height).encode(),
                                                  png]))
    with EventWriter(log_dir) as writer:
        writer.add(summary, step)


def read_scalars(log_dir, tag):
    """[(step, value)] of scalar `tag` in the event files of `log_dir`; [] when absent (also
    when the folder is: a trial that failed before training has none)."""
    if not pathlib.Path(log_dir).is_dir():
        return []
    if not has_tensorboard():
        notice(NO_TENSORBOARD)
        return []
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    if tag not in events.Tags().get("tensors", []):
        return []
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
            for e in events.Tensors(tag)]
