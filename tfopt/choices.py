"""The names a user can choose from, and the messages for names that are not among them.

Light on purpose: the command line checks its arguments with these before TensorFlow loads.
"""

import difflib

__all__ = ["CLASSIFIER", "DEFAULT_MODELS", "EXPORTS", "MODELS", "OBJECTIVES", "STRATEGIES", "TUNERS",
           "objective_direction", "unknown_name_message"]

# Model families and the kind of data each one takes.
MODELS = {"vgg": "image", "textcnn": "text", "transformer": "text"}
DEFAULT_MODELS = {"image": "vgg", "text": "textcnn"}
# val_balanced_accuracy is the default objective on imbalanced data.
OBJECTIVES = ("val_accuracy", "val_balanced_accuracy", "val_loss")
TUNERS = ("hyperband", "random", "bayesian", "grid")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
EXPORTS = ("tflite",)  # beyond the .keras file and SavedModel every run writes
# The name of every family's softmax layer: fine-tuning replaces it.
CLASSIFIER = "predictions"


def objective_direction(objective):
    """"min" for losses, "max" for everything else (accuracy, AUC, ...)."""
    return "min" if "loss" in objective else "max"


def unknown_name_message(kind, name, known):
    """'Unknown task 'mnsit'. Known tasks: ... Did you mean 'mnist'?'"""
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    message = f"Unknown {kind} '{name}'. Known {plural}: {', '.join(sorted(known))}."
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return message + (f" Did you mean '{close[0]}'?" if close else "")
