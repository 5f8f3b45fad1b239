"""Which hyperparameters mattered: permutation importance of a random forest fitted on the trials."""

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.preprocessing import OrdinalEncoder

MIN_TRIALS = 5
BUDGET = "tuner/epochs"  # Hyperband's per-trial epoch budget, itself a strong factor


def hyperparameter_importance(trials, *, seed=0):
    """Share of the objective's variance explained by each hyperparameter.

    A random forest predicts the score from the hyperparameter values of the
    completed trials; each hyperparameter's permutation importance, clipped
    at zero and normalised to sum to 1, is its share. Hyperband's epoch
    budget is included as `tuner/epochs`, since scores at 1 and 9 epochs differ.

    Args:
        trials: keras-tuner `Trial`s.
        seed: seed of the forest and the permutations.

    Returns:
        {name: share} sorted by share, or {} with fewer than 5 completed trials.
    """
    done = [t for t in trials if t.status == "COMPLETED" and t.score is not None]
    if len(done) < MIN_TRIALS:
        return {}
    names = sorted({n for t in done for n in t.hyperparameters.values
                    if not n.startswith("tuner/") or n == BUDGET})
    columns = []
    for name in names:
        values = [t.hyperparameters.values.get(name) for t in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns.append(np.asarray(values, dtype="float64")[:, None])
        else:
            as_text = np.asarray([str(v) for v in values], dtype=object)[:, None]
            columns.append(OrdinalEncoder().fit_transform(as_text))
    x = np.hstack(columns)
    y = np.asarray([t.score for t in done], dtype="float64")
    forest = RandomForestRegressor(n_estimators=200, random_state=seed).fit(x, y)
    shares = permutation_importance(forest, x, y, n_repeats=10,
                                    random_state=seed).importances_mean.clip(min=0)
    total = shares.sum()
    if total == 0:
        return {name: 0.0 for name in names}
    ranked = sorted(zip(names, shares / total), key=lambda pair: -pair[1])
    return {name: round(float(share), 4) for name, share in ranked}


def as_markdown(importance):
    """A Markdown table of the shares, for TensorBoard's text dashboard and reports."""
    if not importance:
        return f"Too few completed trials (fewer than {MIN_TRIALS}) to rank hyperparameters."
    rows = "\n".join(f"| {name} | {share:.1%} |" for name, share in importance.items())
    return "| hyperparameter | share of importance |\n|---|---|\n" + rows
