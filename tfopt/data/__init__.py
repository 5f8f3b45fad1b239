"""Stage 1, data: what a search trains and is scored on.

- `tasks.py`: the task registry (name -> loader, modality, default model) and the
  search's default size by data size (`search_defaults`).
- `download.py`: downloads with checksums, the cache and the offline data directory.
- `images.py`, `text.py`: the built-in data sets; `user_data.py`, `user_tables.py`: your
  own folders and files; `splits.py`: train/validation/test splits.
- `profile.py`: class balance, the objective and class weights.
- `pipeline.py`: arrays -> batched datasets.
"""
