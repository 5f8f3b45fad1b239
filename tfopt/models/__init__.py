"""Model factories: pure functions returning uncompiled `keras.Model`s."""

from tfopt.models.balanced_accuracy import BalancedAccuracy
from tfopt.models.textcnn import build_textcnn
from tfopt.models.transformer import TokenAndPositionEmbedding, build_transformer
from tfopt.models.vgg import build_vgg

__all__ = ["BalancedAccuracy", "build_textcnn", "build_transformer", "build_vgg",
           "TokenAndPositionEmbedding"]
