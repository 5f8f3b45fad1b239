"""VGG-style convolutional network for image classification."""

import keras
from keras import layers

from tfopt.choices import CLASSIFIER
from tfopt.models._checks import check_classes_and_dropout, check_positive


def build_vgg(
    input_shape,
    num_classes,
    *,
    blocks=2,
    filters=32,
    convs_per_block=1,
    dense_units=128,
    dropout=0.3,
    l2=1e-4,
    augment=0.0,
    flip=False,
):
    """Builds an uncompiled VGG-style CNN.

    Each block is `convs_per_block` x (Conv2D 3x3 -> BatchNorm -> ReLU)
    followed by 2x2 max pooling; the filter count doubles from block to block.
    A dense head with dropout follows the flattened features. An optional
    augmentation block (random translation, rotation and zoom, plus horizontal
    flips when `flip=True`) runs only in training.

    Args:
        input_shape: `(height, width, channels)` of the images, scaled to [0, 1].
        num_classes: number of output classes (at least 2).
        blocks: number of convolution blocks.
        filters: filters of the first block; doubled in each later block.
        convs_per_block: convolutions per block.
        dense_units: width of the dense layer of the head.
        dropout: dropout rate before the classifier, in [0, 1).
        l2: L2 weight decay factor on conv and dense kernels (0 turns it off).
        augment: augmentation strength in [0, 0.5]; 0 turns augmentation off.
        flip: whether horizontal flips are a valid augmentation for the task.

    Returns:
        An uncompiled `keras.Model` named "vgg" with a softmax output.

    Raises:
        ValueError: if an argument is out of range.

    Example:
        >>> model = build_vgg((28, 28, 1), 10, blocks=2, filters=16)
        >>> model.output_shape
        (None, 10)
    """
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape}"
        )
    check_classes_and_dropout(num_classes, dropout)
    check_positive(blocks=blocks, filters=filters, convs_per_block=convs_per_block,
                   dense_units=dense_units)
    if not 0 <= augment <= 0.5:
        raise ValueError(f"`augment` must be in [0, 0.5]. Received: augment={augment}")
    if l2 < 0:
        raise ValueError(f"`l2` must be >= 0. Received: l2={l2}")

    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if augment:
        x = _augmentation(augment, flip)(x)
    for b in range(1, blocks + 1):
        width = filters * 2 ** (b - 1)
        for c in range(1, convs_per_block + 1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False,
                              kernel_regularizer=regularizer, name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn{c}")(x)
            x = layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", kernel_regularizer=regularizer, name="fc")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name=CLASSIFIER)(x)
    return keras.Model(inputs, outputs, name="vgg")


def _augmentation(strength, flip):
    """Random geometric augmentation; Keras disables it at inference."""
    steps = [
        layers.RandomTranslation(strength, strength, fill_mode="constant", name="aug_translate"),
        layers.RandomRotation(strength / 2, fill_mode="constant", name="aug_rotate"),
        layers.RandomZoom(strength, fill_mode="constant", name="aug_zoom"),
    ]
    if flip:
        steps.insert(0, layers.RandomFlip("horizontal", name="aug_flip"))
    return keras.Sequential(steps, name="augmentation")

