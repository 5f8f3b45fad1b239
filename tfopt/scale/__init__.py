"""Stage 6, scale: many processes on one search.

- `roles.py`: chief and worker settings, checked before anything loads.
- `chief_worker.py`: keras-tuner's chief/worker tuning, secured and fault tolerant.
- `launch.py`: `tfopt search --workers N` on one machine.
"""
