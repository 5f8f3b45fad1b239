"""RawInputModel: the final model's `predict` takes raw images of every accepted rank and
channel count, in any order, saved and reloaded."""

import itertools

import keras
import numpy as np
import pytest

from tfopt.models import RawInputModel


def _grey_and_colour(n=6, size=8):
    grey = np.random.default_rng(0).integers(0, 256, (n, size, size), dtype="uint8")
    return grey, np.repeat(grey[..., None], 3, axis=-1)


def _inputs(grey, colour):
    alpha = np.full(grey.shape + (1,), 255, dtype="uint8")
    return {"n,h,w": grey, "n,h,w,1": grey[..., None], "n,h,w,3": colour,
            "n,h,w,4": np.concatenate([colour, alpha], axis=-1)}


def test_the_runs_saved_and_reloaded_final_model_take_every_rank_in_every_order(finished_run):
    """The issue's case: (n, 8, 8) uint8 then (n, 8, 8, 1) raised "as_list() is not defined on
    an unknown TensorShape", in either order, reloaded or not."""
    grey, colour = _grey_and_colour()
    inputs = _inputs(grey, colour)
    saved = keras.models.load_model(finished_run.run_dir / "final_model.keras", safe_mode=True)
    expected = saved.predict(grey[..., None], verbose=0)
    assert expected.shape == (6, 10)
    # one sequence in which every kind follows every other kind (13 calls, one trace)
    names = [list(inputs)[i] for i in (0, 3, 2, 3, 1, 3, 0, 2, 1, 2, 0, 1, 0)]
    assert set(zip(names, names[1:])) == set(itertools.permutations(inputs, 2))
    for model in (finished_run.model, saved):
        assert isinstance(model, RawInputModel)
        for step, name in enumerate(names):
            np.testing.assert_allclose(model.predict(inputs[name], verbose=0), expected,
                                       atol=1e-5, err_msg=f"{name} after {names[:step]}")


def _colour_model():
    network = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                                keras.layers.Dense(2, activation="softmax")])
    inputs = keras.Input((None, None, 3))
    return RawInputModel(inputs, network(keras.layers.Rescaling(1 / 255)(inputs)))


def test_grey_images_are_repeated_for_a_colour_model_and_alpha_is_dropped(tmp_path):
    grey, colour = _grey_and_colour()
    model = _colour_model()
    model.save(tmp_path / "colour.keras")
    reloaded = keras.models.load_model(tmp_path / "colour.keras", safe_mode=True)
    expected = model.predict(colour, verbose=0)
    for x in _inputs(grey, colour).values():
        np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(reloaded.predict_on_batch(grey), expected, atol=1e-5)


def test_colour_becomes_grey_by_luma_for_a_grey_model():
    inputs = keras.Input((None, None, 1))
    model = RawInputModel(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    red = np.zeros((1, 2, 2, 3), dtype="uint8")
    red[..., 0] = 200
    np.testing.assert_allclose(model.predict(red, verbose=0), [[0.299 * 200]], rtol=1e-5)


@pytest.mark.parametrize("shape", [(8, 8), (2, 8, 8, 2), (1, 2, 8, 8, 1)])
def test_other_shapes_are_refused_with_what_was_received_and_expected(shape):
    with pytest.raises(ValueError) as error:
        _colour_model().predict(np.zeros(shape, dtype="uint8"), verbose=0)
    assert f"received an array of shape {shape}" in str(error.value)
    assert "(n, height, width) or (n, height, width, channels)" in str(error.value)
