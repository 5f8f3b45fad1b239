"""Stage 2, models: pure factories returning uncompiled `keras.Model`s (no `hp`, no data).

- `vgg.py`, `textcnn.py`, `transformer.py`: one family a file.
- `balanced_accuracy.py`: the metric tfopt ranks trials by on imbalanced data.
- `raw_input.py`: the final model's class, whose `predict` takes raw images of any rank.
"""

from tfopt.models.balanced_accuracy import BalancedAccuracy
from tfopt.models.raw_input import RawInputModel
from tfopt.models.textcnn import build_textcnn
from tfopt.models.transformer import TokenAndPositionEmbedding, build_transformer
from tfopt.models.vgg import build_vgg

__all__ = ["BalancedAccuracy", "RawInputModel", "build_textcnn", "build_transformer", "build_vgg",
           "TokenAndPositionEmbedding"]
