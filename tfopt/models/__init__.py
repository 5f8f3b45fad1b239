"""Stage 2, models: pure factories returning uncompiled `keras.Model`s (no `hp`, no data).

- `vgg.py`, `textcnn.py`, `transformer.py`: one family a file.
- `balanced_accuracy.py`: the metric tfopt ranks trials by on imbalanced data.
"""

from tfopt.models.balanced_accuracy import BalancedAccuracy
from tfopt.models.textcnn import build_textcnn
from tfopt.models.transformer import TokenAndPositionEmbedding, build_transformer
from tfopt.models.vgg import build_vgg

__all__ = ["BalancedAccuracy", "build_textcnn", "build_transformer", "build_vgg",
           "TokenAndPositionEmbedding"]
