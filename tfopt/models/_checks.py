"""Argument checks shared by the model factories."""


def check_positive(**values):
    """Raises ValueError naming the first argument that is not a positive integer."""
    for name, value in values.items():
        if int(value) < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")


def check_classes_and_dropout(num_classes, dropout, *, name="dropout"):
    """Raises ValueError for fewer than two classes or a dropout rate outside [0, 1)."""
    if int(num_classes) < 2:
        raise ValueError(f"`num_classes` must be at least 2. Received: num_classes={num_classes}")
    if not 0 <= dropout < 1:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={dropout}")
