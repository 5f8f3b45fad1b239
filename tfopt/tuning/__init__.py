"""Stage 4, tuning: many trainings, one search (named so because `tfopt.search` is the
public function).

- `hypermodels.py`: one keras-tuner `HyperModel` a family; `space.py`: your ranges.
- `plan.py`: the timing probe and the plan; `budget.py`: everything about a wall-clock
  budget; `model_cost.py`: a model's multiply-adds, for estimating its time.
- `tuners.py`: the tuners and oracles; `recovery.py`: resuming after a kill.
- `finetune.py`: the fine-tuning space over a finished run's network.
"""
