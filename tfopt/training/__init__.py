"""Stage 3, training: how one model trains.

- `strategy.py`: the `tf.distribute` strategy and mixed precision.
- `multi_worker.py`: one model on every machine of a TF_CONFIG cluster.
- `callbacks.py`: early stopping, TensorBoard, the step clock and the deadline.
- `tensorboard_logs.py`: per-trial TensorBoard runs, HParams, and reading them back.
"""
