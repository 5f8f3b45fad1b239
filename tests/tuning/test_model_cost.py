"""A model's multiply-adds an example, and seconds an epoch fitted on them."""

import keras
import pytest

from tfopt.tuning.hypermodels import TextCNNHyperModel, VGGHyperModel
from tfopt.tuning.model_cost import configuration_cost, epoch_seconds_by_cost, multiply_adds
from tfopt.models import build_transformer, build_vgg


def test_multiply_adds_count_each_kernel_over_its_output_positions():
    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 3, padding="same"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(5)])
    # the conv: 3x3x2x3 kernel over 4x4 pixels; the dense: 12x5 (pooling counts nothing)
    assert multiply_adds(model) == 3 * 3 * 2 * 3 * 16 + 12 * 5


def test_the_default_vgg_on_small_images_counts_its_convolutions_and_head():
    # block 1: 1->32 over 8x8, block 2: 32->64 over 4x4, dense 2x2x64->128, 128->3
    expected = 9 * 32 * 64 + 9 * 32 * 64 * 16 + 256 * 128 + 128 * 3
    assert multiply_adds(build_vgg((8, 8, 1), 3)) == expected


def test_attention_layers_count_their_inner_kernels_over_the_sequence():
    small = multiply_adds(build_transformer(20, 100, 2, num_blocks=1))
    two_blocks = multiply_adds(build_transformer(20, 100, 2, num_blocks=2))
    longer = multiply_adds(build_transformer(40, 100, 2, num_blocks=1))
    assert 0 < small < two_blocks < 2 * small  # a second block, not a second head
    assert longer > 1.9 * small  # the blocks slide over twice the positions


def test_configuration_cost_builds_the_model_of_given_values():
    hypermodel = VGGHyperModel((28, 28, 1), 10)
    default = configuration_cost(hypermodel, {})
    assert default == multiply_adds(build_vgg((28, 28, 1), 10))
    deeper = configuration_cost(hypermodel, {"blocks": 3, "convs_per_block": 2,
                                             "tuner/epochs": 3, "batch_size": 32})
    assert deeper == multiply_adds(build_vgg((28, 28, 1), 10, blocks=3, convs_per_block=2))
    assert deeper > 5 * default  # 29.4 M against 4.2 M
    text = TextCNNHyperModel((20,), 2, vocab_size=100)
    assert configuration_cost(text, {"filters": 200}) > configuration_cost(text, {"filters": 50})


def test_configuration_cost_is_none_when_the_model_cannot_be_built():
    class NeedsATrial(VGGHyperModel):
        def build_model(self, hp):
            raise RuntimeError("only inside a trial")

    assert configuration_cost(NeedsATrial((8, 8, 1), 3), {}) is None


def test_epoch_seconds_interpolate_between_timed_costs_and_scale_beyond():
    estimate = epoch_seconds_by_cost([(1e6, 12.0), (3e6, 28.0), (5e6, 44.0)])
    assert estimate(2e6) == pytest.approx(20.0) and estimate(4e6) == pytest.approx(36.0)
    assert estimate(0) == 12.0  # below the cheapest: its time (the pipeline's share stays)
    assert estimate(1e7) == pytest.approx(88.0)  # above the costliest: scaled with the cost
    averaged = epoch_seconds_by_cost([(1e6, 10.0), (1e6, 12.0), (2e6, 20.0)])
    assert averaged(1e6) == pytest.approx(11.0)  # equal costs: their mean
    assert epoch_seconds_by_cost([(1e6, 10.0), (1e6, 12.0)]) is None  # one cost: no slope
    assert epoch_seconds_by_cost([]) is None
