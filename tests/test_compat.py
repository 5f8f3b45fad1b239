"""The private-API layer: version bounds checked, missing names explained."""

import keras_tuner as kt
import pytest

from tfopt import _compat


def test_the_installed_releases_are_the_tested_ones():
    assert _compat.check_version("keras").startswith("3.")
    assert _compat.check_version("keras-tuner").startswith("1.4")


def test_an_untested_release_is_refused_with_what_to_install(monkeypatch):
    _compat.check_version.cache_clear()
    monkeypatch.setattr(_compat.metadata, "version", lambda package: "9.0.0")
    with pytest.raises(_compat.CompatError) as error:
        _compat.check_version("keras-tuner")
    assert "keras-tuner 9.0.0 is installed" in str(error.value)
    assert "pip install 'keras-tuner>=1.4.0,<1.5'" in str(error.value)
    monkeypatch.undo()
    _compat.check_version.cache_clear()


def test_a_missing_private_name_is_named():
    class Oracle:
        pass

    with pytest.raises(_compat.CompatError, match="Oracle._retry_queue"):
        _compat.retry_queue(Oracle())
    with pytest.raises(_compat.CompatError, match="_no_such_hook"):
        _compat.require_hooks(kt.Tuner, "_no_such_hook")


def test_hyperband_rounds_follow_keras_tuners_schedule():
    oracle = kt.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=9, factor=3)
    rounds = _compat.hyperband_rounds(oracle)
    assert rounds[0] == [(9, 1), (3, 3), (1, 9)]  # the most aggressive bracket first
    assert rounds[-1] == [(3, 9)]


def test_release_parsing():
    assert _compat._release("3.15.1") == (3, 15, 1)
    assert _compat._release("1.4.8.dev0+local") == (1, 4, 8)
