"""Model factories: shapes, parameter counts, a training step, save/reload, bad arguments."""

import keras
import numpy as np
import pytest

from tfopt.models import build_textcnn, build_transformer, build_vgg

TINY = {
    "vgg": (lambda **kw: build_vgg((8, 8, 1), 3, blocks=1, filters=4, dense_units=8, **kw),
            np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")),
    "textcnn": (lambda **kw: build_textcnn(12, 50, 3, embedding_dim=8, filters=4, **kw),
                np.random.default_rng(0).integers(0, 50, (6, 12)).astype("int32")),
    "transformer": (lambda **kw: build_transformer(12, 50, 3, embed_dim=8, num_heads=2,
                                                   ff_dim=8, **kw),
                    np.random.default_rng(0).integers(0, 50, (6, 12)).astype("int32")),
}


@pytest.mark.parametrize("family", TINY)
def test_output_is_a_probability_per_class(family):
    build, x = TINY[family]
    model = build()
    probabilities = model.predict(x, verbose=0)
    assert model.name == family
    assert probabilities.shape == (6, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_parameter_counts_of_tiny_configs():
    # vgg: conv 3*3*1*4 + BN 4*4 + fc (4*4*4)*8+8 + out 8*3+3
    assert TINY["vgg"][0]().count_params() == 36 + 16 + 520 + 27
    # textcnn: embedding 50*8 + convs (3*8*4+4)+(4*8*4+4)+(5*8*4+4) + out 12*3+3
    assert TINY["textcnn"][0]().count_params() == 400 + 100 + 132 + 164 + 39


@pytest.mark.parametrize("family", TINY)
def test_training_steps_lower_the_loss(family):
    build, x = TINY[family]
    model = build()
    y = np.array([0, 1, 2, 0, 1, 2])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    losses = [float(model.train_on_batch(x, y)) for _ in range(6)]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("family", TINY)
def test_saves_and_reloads_without_custom_objects(family, tmp_path):
    build, x = TINY[family]
    model = build()
    path = tmp_path / f"{family}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_vgg_blocks_double_the_filters_and_name_layers():
    model = build_vgg((16, 16, 3), 10, blocks=3, filters=8, convs_per_block=2)
    assert model.get_layer("block1_conv2").filters == 8
    assert model.get_layer("block3_conv1").filters == 32
    assert model.get_layer("block3_pool").output.shape[1:3] == (2, 2)


def test_vgg_augmentation_only_in_training():
    model = build_vgg((8, 8, 1), 2, augment=0.2, flip=True)
    augmentation = model.get_layer("augmentation")
    assert [layer.name for layer in augmentation.layers][0] == "aug_flip"
    x = np.random.default_rng(1).random((4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(augmentation(x, training=False), x)
    assert not np.allclose(augmentation(x, training=True), x)
    assert "augmentation" not in [l.name for l in build_vgg((8, 8, 1), 2, augment=0).layers]


@pytest.mark.parametrize("build, kwargs, message", [
    (build_vgg, dict(input_shape=(8, 8), num_classes=3), "input_shape"),
    (build_vgg, dict(input_shape=(8, 8, 1), num_classes=1), "num_classes"),
    (build_vgg, dict(input_shape=(8, 8, 1), num_classes=3, dropout=1.0), "dropout"),
    (build_vgg, dict(input_shape=(8, 8, 1), num_classes=3, augment=0.9), "augment"),
    (build_vgg, dict(input_shape=(8, 8, 1), num_classes=3, blocks=0), "blocks"),
    (build_textcnn, dict(sequence_length=4, vocab_size=10, num_classes=2, kernel_sizes=(5,)),
     "kernel_sizes"),
    (build_transformer, dict(sequence_length=4, vocab_size=10, num_classes=2, embed_dim=10,
                             num_heads=4), "divisible"),
])
def test_bad_arguments_say_what_was_received(build, kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        build(**kwargs)
    assert "Received" in str(error.value)
