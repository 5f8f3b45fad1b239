"""A small Transformer encoder for text classification."""

import keras
from keras import layers, ops

from tfopt.choices import CLASSIFIER
from tfopt.models._checks import check_classes_and_dropout, check_positive


@keras.saving.register_keras_serializable(package="tfopt")
class TokenAndPositionEmbedding(layers.Layer):
    """Sum of a token embedding and a learned position embedding."""

    def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.token_embedding = layers.Embedding(vocab_size, embed_dim, name="token")
        self.position_embedding = layers.Embedding(sequence_length, embed_dim, name="position")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.sequence_length,))
        super().build(input_shape)

    def call(self, tokens):
        positions = ops.arange(0, ops.shape(tokens)[-1], 1)
        return self.token_embedding(tokens) + self.position_embedding(positions)

    def get_config(self):
        config = super().get_config()
        config.update(sequence_length=self.sequence_length, vocab_size=self.vocab_size,
                      embed_dim=self.embed_dim)
        return config


def build_transformer(
    sequence_length,
    vocab_size,
    num_classes,
    *,
    embed_dim=64,
    num_heads=2,
    ff_dim=128,
    num_blocks=1,
    dropout=0.1,
):
    """Builds an uncompiled Transformer-encoder classifier.

    Token + position embedding, `num_blocks` post-norm encoder blocks
    (multi-head self-attention and a feed-forward network, each with dropout,
    a residual connection and layer normalisation), global average pooling
    and a softmax classifier.

    Args:
        sequence_length: length of the (padded) token-id sequences.
        vocab_size: size of the vocabulary, including padding (0) and OOV (1).
        num_classes: number of output classes (at least 2).
        embed_dim: width of the token representations.
        num_heads: attention heads; `embed_dim` is split between them.
        ff_dim: hidden width of the feed-forward network.
        num_blocks: number of encoder blocks.
        dropout: dropout rate inside the blocks and before the classifier.

    Returns:
        An uncompiled `keras.Model` named "transformer" with a softmax output.

    Raises:
        ValueError: if an argument is out of range.

    Example:
        >>> model = build_transformer(40, 1000, 2, embed_dim=16)
        >>> model.output_shape
        (None, 2)
    """
    check_classes_and_dropout(num_classes, dropout)
    check_positive(sequence_length=sequence_length, vocab_size=vocab_size, embed_dim=embed_dim,
                   num_heads=num_heads, ff_dim=ff_dim, num_blocks=num_blocks)
    if embed_dim % num_heads:
        raise ValueError(
            f"`embed_dim` must be divisible by `num_heads`. Received: embed_dim={embed_dim}, "
            f"num_heads={num_heads}"
        )

    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
    x = TokenAndPositionEmbedding(sequence_length, vocab_size, embed_dim, name="embedding")(inputs)
    for b in range(1, num_blocks + 1):
        attention = layers.MultiHeadAttention(num_heads, embed_dim // num_heads,
                                              name=f"block{b}_attention")(x, x)
        attention = layers.Dropout(dropout, name=f"block{b}_attention_dropout")(attention)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm1")(x + attention)
        ff = layers.Dense(ff_dim, activation="relu", name=f"block{b}_ff1")(x)
        ff = layers.Dense(embed_dim, name=f"block{b}_ff2")(ff)
        ff = layers.Dropout(dropout, name=f"block{b}_ff_dropout")(ff)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm2")(x + ff)
    x = layers.GlobalAveragePooling1D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name=CLASSIFIER)(x)
    return keras.Model(inputs, outputs, name="transformer")
