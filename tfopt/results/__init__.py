"""Stage 5, results: what a finished search leaves behind.

- `final.py`: the final model (retrained, averaged, ensembled), checked on the test split.
- `export.py`: .keras, SavedModel and TensorFlow Lite files.
- `metrics.py`, `importance.py`: test metrics and hyperparameter importance.
- `saving.py`: results.json, trials.csv, test predictions.
- `report.py`, `plots.py`, `page.py`: report.md and report.html (tables, plots, the page).
- `loading.py`: `tfopt.load` for a finished run; `predict.py`: `tfopt predict`.
"""
