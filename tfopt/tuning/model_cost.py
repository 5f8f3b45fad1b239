"""What a trial's model costs: multiply-adds an example, and seconds an epoch by that cost.

A search's sampled models differ in compute by 50x and more (Fashion-MNIST's
VGG space: 0.5 million multiply-adds an example for the defaults, 29 million
for 3 blocks of 2 convolutions of 32-128 filters), so a wall-clock budget
estimates each next trial from its own model rather than from the mean of
the trials so far (`tfopt.tuning.budget.Budget`).
"""

import math

import numpy as np


def multiply_adds(model):
    """Multiply-adds of one example's forward pass, counted from the layers' kernels.

    Each kernel (`Conv*`, `Dense`, `EinsumDense` and the ones inside composite
    layers such as `MultiHeadAttention`) counts its size times the positions of
    its layer's output (pixels, time steps; 1 for a flat output). Layers without
    a kernel (pooling, normalization, embeddings' look-ups) count nothing.
    """
    total = 0
    for layer in model.layers:
        size = sum(math.prod(weight.shape) for weight in layer.weights
                   if weight.path.split("/")[-1] == "kernel")
        if size:
            total += size * _positions(layer)
    return int(total)


def _positions(layer):
    """Positions a layer's kernel slides over: its output's dimensions between batch and
    channels (1 when it has no single known output, e.g. a subclassed model's layer)."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return 1
    return math.prod(d for d in shape[1:-1] if d) if len(shape) > 2 else 1


def configuration_cost(hypermodel, values):
    """`multiply_adds` of the model that `hypermodel` builds for hyperparameter `values`
    (None when it cannot be built outside a trial)."""
    import keras_tuner as kt  # here: `tfopt.tuning.budget` (and the CLI's checks) import this module

    hp = kt.HyperParameters()  # each hp the build declares returns its value from here
    hp.values.update({k: v for k, v in values.items() if not k.startswith("tuner/")})
    try:
        build = getattr(hypermodel, "build_model", hypermodel.build)
        model = build(hp)
    except Exception:  # a custom hypermodel may need what only a trial sets up
        return None
    return multiply_adds(model)


def epoch_seconds_by_cost(points):
    """A function: multiply-adds an example -> seconds an epoch, from `points` ((multiply-adds,
    seconds an epoch) of models timed in this search; equal costs averaged). Between two
    timed costs it interpolates; below the cheapest it takes the cheapest's time (what
    does not scale with compute: the input pipeline, the steps' overhead); above the
    costliest it scales that one's time with the cost. None while fewer than two costs are
    known."""
    by_cost = {}
    for cost, seconds in points:
        by_cost.setdefault(float(cost), []).append(float(seconds))
    if len(by_cost) < 2:
        return None
    costs = np.array(sorted(by_cost))
    seconds = np.array([np.mean(by_cost[cost]) for cost in costs])

    def estimate(cost):
        if cost > costs[-1]:
            return float(seconds[-1] * cost / costs[-1])
        return float(np.interp(cost, costs, seconds))

    return estimate
