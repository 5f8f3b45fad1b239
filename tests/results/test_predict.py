"""`tfopt predict`: raw images and raw text in, labels and probabilities out."""

import io
import shutil
import sys

import numpy as np
import pytest

import tfopt
from tfopt.cli import main
from tfopt.errors import InputError
from tfopt.results.predict import predict


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, digits_data):
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    for i in range(6):
        Image.fromarray(digits_data.x_test[i, :, :, 0]).save(folder / f"digit{i}.png")
    Image.fromarray(np.zeros((24, 20, 3), "uint8")).save(folder / "colour.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_image_folder_gets_the_models_labels(finished_run, image_folder, digits_data):
    rows = predict(finished_run.run_dir, image_folder)
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["colour.jpg"] + [
        f"digit{i}.png" for i in range(6)]
    probabilities = finished_run.model.predict(digits_data.x_test[:6], verbose=0)
    expected = [str(label) for label in probabilities.argmax(axis=1)]
    assert [r[1] for r in rows[1:]] == expected
    np.testing.assert_allclose([r[2] for r in rows[1:]], probabilities.max(axis=1), rtol=1e-4)
    assert 0 < rows[0][2] <= 1  # a colour image of another size is converted and resized


def test_cli_prints_a_table_and_one_line_errors(finished_run, image_folder, tmp_path, capsys):
    assert main(["predict", str(finished_run.run_dir), "--input",
                 str(image_folder / "digit0.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "input\tlabel\tprobability" and out[1].split("\t")[0].endswith("digit0.png")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG not really")
    for argv, message in [
        (["predict", str(finished_run.run_dir), "--input", str(bad)], "broken.png is not a "
                                                                      "readable image"),
        (["predict", str(finished_run.run_dir), "--input", str(tmp_path / "none")],
         "does not exist"),
        (["predict", str(tmp_path / "no-run"), "--input", str(image_folder)],
         "does not exist"),
        (["predict", str(finished_run.run_dir), "--input", str(tmp_path)], "holds no PNG"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert "{{" not in err and "[Op:" not in err  # no TensorFlow op names


def test_a_folder_that_is_not_a_run_is_refused_before_tensorflow_loads(tmp_path):
    import subprocess

    (tmp_path / "photo.png").write_bytes(b"")
    code = ("import sys; from tfopt.cli import main; code = main(['predict', sys.argv[1], "
            "'--input', sys.argv[1]]); assert 'tensorflow' not in sys.modules; sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"tfopt: error: '{tmp_path}' has no results.json: it is " \
                                  "not a tfopt run folder."


def test_incomplete_run_is_refused(finished_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run.run_dir, copy)
    (copy / "final_model.keras").unlink()
    with pytest.raises(InputError, match="incomplete: final_model.keras missing"):
        predict(copy, "-")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A 1-trial transformer search on a small CSV of reviews whose label is in its words."""
    folder = tmp_path_factory.mktemp("text")
    rng = np.random.default_rng(0)
    good, bad = ("gorgeous", "moving", "funny", "great"), ("dull", "lifeless", "long", "bad")
    filler = ("the", "film", "a", "plot", "and", "was", "its", "cast", "story", "very")
    rows = []
    for i in range(400):
        label = i % 2
        words = list(rng.choice(filler, 6)) + list(rng.choice(good if label else bad, 2))
        rng.shuffle(words)
        rows.append(f"{' '.join(words)},{'positive' if label else 'negative'}")
    (folder / "reviews.csv").write_text("review,label\n" + "\n".join(rows) + "\n")
    return tfopt.search(data=str(folder / "reviews.csv"), model="transformer", tuner="random",
                        max_trials=1, epochs=3, out=str(folder / "run"), verbose=0)


def _predicts_raw_text_as_the_model_does(run, tmp_path):
    """`predict` on stdin and on a file (an empty line skipped) gives the final model's
    labels; a folder is refused. Returns the labels of a positive and a negative line."""
    lines = ["a gorgeous , moving and funny film .", "", "dull , lifeless and far too long ."]
    rows = predict(run.run_dir, "-", stdin=io.StringIO("\n".join(lines)))
    assert [r[0] for r in rows] == [lines[0], lines[2]]
    expected = run.model.predict(np.array([lines[0], lines[2]], dtype=object), verbose=0)
    assert [r[1] for r in rows] == [["negative", "positive"][i] for i in expected.argmax(1)]
    file = tmp_path / "reviews.txt"
    file.write_text("\n".join(lines))
    assert predict(run.run_dir, file) == rows
    with pytest.raises(InputError, match="This run classifies text"):
        predict(run.run_dir, tmp_path)
    return [r[1] for r in rows]


def test_transformer_on_own_text_classifies_raw_text(text_run, tmp_path):
    assert text_run.results["test_accuracy"] > 0.8  # chance is 0.5
    assert _predicts_raw_text_as_the_model_does(text_run, tmp_path) == ["positive", "negative"]


def test_own_text_lists_its_most_confidently_wrong_texts(text_run):
    wrong = text_run.results["confidently_wrong"]
    saved = np.load(text_run.run_dir / "test_predictions.npz")
    errors = int(np.sum(saved["final_probabilities"].argmax(1) != saved["y_true"]))
    assert len(wrong) == min(10, errors)
    assert [w["probability"] for w in wrong] == sorted((w["probability"] for w in wrong),
                                                       reverse=True)
    if wrong:
        probabilities = text_run.model.predict(np.array([w["text"] for w in wrong],
                                                        dtype=object), verbose=0)
        for w, p in zip(wrong, probabilities):
            assert w["predicted"] != w["true"]
            assert w["probability"] == pytest.approx(p.max(), rel=1e-4)


@pytest.fixture(scope="module")
def mr_run(shared_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mr"
    return tfopt.search("mr", model="transformer", tuner="random", max_trials=1, epochs=1,
                        out=str(out), data_dir=str(shared_data_dir), verbose=0)


@pytest.mark.slow
@pytest.mark.data
def test_transformer_on_mr_classifies_raw_text(mr_run, tmp_path):
    assert mr_run.results["data_sizes"] == {"train": 8635, "val": 960, "test": 1067}
    assert mr_run.results["test_accuracy"] > 0.55  # chance is 0.5
    _predicts_raw_text_as_the_model_does(mr_run, tmp_path)


@pytest.mark.slow
@pytest.mark.data
def test_mr_lists_the_most_confidently_wrong_texts(mr_run):
    wrong = mr_run.results["confidently_wrong"]
    assert len(wrong) == 10
    assert [w["probability"] for w in wrong] == sorted((w["probability"] for w in wrong),
                                                       reverse=True)
    texts = [w["text"] for w in wrong]
    probabilities = mr_run.model.predict(np.array(texts, dtype=object), verbose=0)
    for w, p in zip(wrong, probabilities):
        assert w["predicted"] != w["true"]
        assert w["predicted"] == ["negative", "positive"][p.argmax()]
        assert w["probability"] == pytest.approx(p.max(), rel=1e-4)
    assert "## Most confidently wrong" in (mr_run.run_dir / "report.md").read_text()
