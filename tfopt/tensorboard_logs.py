"""Reading scalars back from a run's TensorBoard logs (with TensorBoard's own reader)."""


def read_scalars(log_dir, tag):
    """[(step, value)] of scalar `tag` in the event files of `log_dir`; [] when absent."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    if tag not in events.Tags().get("tensors", []):
        return []
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
            for e in events.Tensors(tag)]
