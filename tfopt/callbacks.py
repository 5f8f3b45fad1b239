"""The callbacks every trial gets, assembled once per search."""

import keras

from tfopt.tasks import objective_direction


def trial_callbacks(log_dir, *, objective="val_accuracy", patience=3):
    """EarlyStopping with best-weight restore, and TensorBoard.

    keras-tuner gives each trial its own TensorBoard folder under `log_dir`
    (`<trial_id>/execution0/{train,validation}`) and writes the HParams
    dashboard data next to it.
    """
    return [
        keras.callbacks.EarlyStopping(monitor=objective, mode=objective_direction(objective),
                                      patience=patience, restore_best_weights=True),
        keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False,
                                    profile_batch=0),
    ]
