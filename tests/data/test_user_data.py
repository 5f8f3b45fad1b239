"""The user's own data: every layout, conversions in `notes`, clear errors, nothing written."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from tfopt.data.user_data import load_user_data, suggest_sequence_length
from tfopt.errors import InputError

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _image(path, size=(8, 8), colour=RED, mode="RGB"):
    """Saves a plain image; `size` is (height, width)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size[::-1], colour).save(path)


def _image_folder(root, counts, **kwargs):
    """{class name: number of images} as PNGs; "cat" is red, every other class blue."""
    for name, count in counts.items():
        for i in range(count):
            _image(root / name / f"{i}.png", colour=RED if name == "cat" else BLUE, **kwargs)
    return root


def _snapshot(root):
    """{relative path: (size, mtime_ns)} of everything under `root`, `root` included."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in [root, *root.rglob("*")]}


def _rejects(path, match, **kwargs):
    """Asserts `load_user_data` fails with `match` and leaves the data folder as it was."""
    folder = path if path.is_dir() else path.parent
    before = _snapshot(folder)
    with pytest.raises(InputError, match=match):
        load_user_data(path, **kwargs)
    assert _snapshot(folder) == before


def _loads(path, **kwargs):
    """`load_user_data`, asserting it leaves the data folder (a file's folder) as it was."""
    folder = path if path.is_dir() else path.parent
    before = _snapshot(folder)
    splits = load_user_data(path, **kwargs)
    assert _snapshot(folder) == before
    return splits


def _write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


# Image folders

def test_image_folder_is_split_stratified_and_noted(tmp_path):
    root = _image_folder(tmp_path / "pets", {"cat": 10, "dog": 10})
    (root / "README.md").write_text("my pets")
    (root / "cat" / ".DS_Store").write_bytes(b"\0")
    (root / "dog" / "Thumbs.db").write_bytes(b"\0")
    splits = _loads(root)
    assert splits.class_names == ["cat", "dog"] and splits.modality == "image"
    assert splits.sizes() == {"train": 14, "val": 2, "test": 4}
    assert splits.x_train.dtype == np.uint8 and splits.input_shape == (8, 8, 3)
    assert splits.source == f"image folder {root} (20 images, 2 classes)"
    cats = splits.x_train[splits.y_train == 0]
    assert cats[..., 0].min() == 255 and cats[..., 2].max() == 0  # labels follow the folders
    assert np.bincount(splits.y_test).tolist() == [2, 2]
    assert "ignored README.md next to the class folders" in splits.notes
    assert "image size 8x8, the size of all images" in splits.notes
    assert "skipped 2 hidden or system file(s): cat/.DS_Store, dog/Thumbs.db" in splits.notes


def test_given_train_validation_test_folders_are_kept(tmp_path):
    root = tmp_path / "digits"
    for part, count in (("train", 5), ("validation", 1), ("test", 2)):
        for name in ("one", "two"):
            for i in range(count):
                _image(root / part / name / f"{i}.PNG", mode="L",
                       colour=40 if name == "one" else 200)
    splits = _loads(root)
    assert splits.sizes() == {"train": 10, "val": 2, "test": 4}
    assert splits.input_shape == (8, 8, 1) and splits.class_names == ["one", "two"]
    assert splits.x_val[splits.y_val == 1].min() == 200
    assert "used the given train, val and test parts" in splits.notes


def test_given_train_and_test_carve_validation_from_train(tmp_path):
    root = tmp_path / "pets"
    _image_folder(root / "train", {"cat": 10, "dog": 10})
    _image_folder(root / "test", {"cat": 2, "dog": 3})
    splits = _loads(root)
    assert splits.sizes() == {"train": 18, "val": 2, "test": 5}
    assert np.bincount(splits.y_val).tolist() == [1, 1]
    assert "used the given train and test parts; carved 10% of train for val" in splits.notes


def test_mixed_sizes_are_resized_to_the_most_common(tmp_path):
    root = _image_folder(tmp_path / "pets", {"cat": 8, "dog": 8})
    _image(root / "cat" / "wide.png", size=(6, 10))
    _image(root / "dog" / "tall.png", size=(12, 4), colour=BLUE)
    splits = _loads(root)
    assert splits.input_shape == (8, 8, 3) and sum(splits.sizes().values()) == 18
    assert "resized 2 of 18 images to 8x8" in splits.notes
    assert any(note.startswith("image size 8x8, the most common size (16 of 18")
               for note in splits.notes)
    everything = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
    assert set(np.unique(everything[..., 0])) <= {0, 255}  # plain colours stay plain


def test_grey_and_colour_become_rgb_and_gif_bmp_decode(tmp_path):
    root = tmp_path / "shapes"
    for i in range(7):
        _image(root / "cat" / f"{i}.png", mode="L", colour=90)
        _image(root / "dog" / f"{i}.bmp", colour=BLUE)
    _image(root / "cat" / "anim.gif", mode="P", colour=3)
    _image(root / "dog" / "clear.png", mode="RGBA", colour=(0, 0, 255, 128))
    splits = _loads(root)
    assert splits.input_shape == (8, 8, 3)
    assert "converted 7 grey image(s) to RGB (the data set has colour images)" in splits.notes
    assert "dropped the alpha (transparency) channel of 1 image(s)" in splits.notes
    grey = splits.x_train[splits.y_train == 0]
    assert (grey[..., 0] == grey[..., 1]).all()
    assert splits.x_train[splits.y_train == 1][..., 2].min() == 255


def test_large_images_are_scaled_down_keeping_the_aspect_ratio(tmp_path):
    root = _image_folder(tmp_path / "big", {"cat": 7, "dog": 7}, size=(160, 200))
    splits = _loads(root)
    assert splits.input_shape == (102, 128, 3)
    assert any("scaled down to a longer side of 128" in note and "--image-size" in note
               for note in splits.notes)


@pytest.mark.parametrize("size, shape", [(4, (4, 4)), ("6", (6, 6)), ("4x6", (4, 6)),
                                         ((6, 4), (6, 4))])
def test_image_size_override(tmp_path, size, shape):
    root = _image_folder(tmp_path / "pets", {"cat": 7, "dog": 7})
    splits = _loads(root, image_size=size)
    assert splits.input_shape == (*shape, 3)
    assert f"image size {shape[0]}x{shape[1]} (--image-size)" in splits.notes
    assert f"resized 14 of 14 images to {shape[0]}x{shape[1]}" in splits.notes


@pytest.mark.parametrize("size", [0, -3, "abc", "4x", (4,), True, 4.5, "2000"])
def test_bad_image_sizes_are_rejected(tmp_path, size):
    root = _image_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    _rejects(root, "Invalid image size.*--image-size 64", image_size=size)


def test_corrupt_and_foreign_files_stop_or_are_skipped(tmp_path):
    root = _image_folder(tmp_path / "pets", {"cat": 8, "dog": 8})
    (root / "cat" / "broken.png").write_bytes(b"not a png")
    _rejects(root, r"broken\.png' is not a readable image \(Unknown image file format\. One of "
                   r"JPEG.*required\.\)\. Fix or remove it, or pass --skip-bad to skip bad files\.")
    splits = _loads(root, skip_bad=True)
    assert sum(splits.sizes().values()) == 16
    assert "skipped 1 bad file(s): cat/broken.png" in splits.notes


def test_files_of_other_kinds_and_system_files_are_skipped_and_counted(tmp_path):
    """As Keras' image_dataset_from_directory skips them; a stray notes.txt stopped the
    whole folder before."""
    root = _image_folder(tmp_path / "pets", {"cat": 8, "dog": 8})
    (root / "dog" / "notes.txt").write_text("a note")
    (root / "dog" / "notes.doc").write_text("a note")
    (root / "cat" / ".DS_Store").write_bytes(b"\0")
    (root / "cat" / "Thumbs.db").write_bytes(b"\0")
    splits = _loads(root)
    assert sum(splits.sizes().values()) == 16
    assert "skipped 2 file(s) that are not images: dog/notes.doc, dog/notes.txt" in splits.notes
    assert "skipped 2 hidden or system file(s): cat/.DS_Store, cat/Thumbs.db" in splits.notes
    only_docs = tmp_path / "docs"
    for name in ("a", "b"):
        (only_docs / name).mkdir(parents=True)
        (only_docs / name / "x.doc").write_text("?")
    _rejects(only_docs, r"has no images \(PNG/JPEG/BMP/GIF\) or \.txt files in its class "
                        r"folders \(found a/x\.doc, b/x\.doc\)")


def test_folder_layout_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    _rejects(tmp_path / "empty", "has no class sub-folders")
    with pytest.raises(InputError, match="'.*missing' does not exist. Expected an image folder"):
        load_user_data(tmp_path / "missing")
    one = _image_folder(tmp_path / "one", {"cat": 5})
    _rejects(one, "only one class, 'cat'.*at least two classes")
    parts = tmp_path / "parts"
    _image_folder(parts / "train", {"cat": 5, "dog": 5})
    _image_folder(parts / "test", {"cat": 2, "dog": 2, "emu": 2})
    _rejects(parts, "class.*emu have validation or test examples but no training ones")
    _image_folder(parts / "val", {"cat": 1})
    _image_folder(parts / "validation", {"cat": 1})
    _rejects(parts, "both val/ and validation/")
    (tmp_path / "table.xlsx").write_bytes(b"PK")
    _rejects(tmp_path / "table.xlsx", r"\.xlsx file.*\.csv, \.tsv, \.jsonl or \.npz")


def test_too_few_examples_name_the_class_and_the_need(tmp_path):
    root = _image_folder(tmp_path / "pets", {"cat": 10, "dog": 2})
    _rejects(root, "class 'dog' has only 2 example.*at least 3 per class")
    root = _image_folder(tmp_path / "few", {"cat": 4, "dog": 4})
    _rejects(root, "8 examples are too few to carve stratified test and val parts holding "
                   "all 2 classes; at least 14 are needed")


# Text folders

def test_aclimdb_text_folders(tmp_path):
    root = tmp_path / "aclImdb"
    for part, count in (("train", 8), ("test", 3)):
        for label, word in (("neg", "awful"), ("pos", "great")):
            (root / part / label).mkdir(parents=True)
            for i in range(count):
                (root / part / label / f"{i}_7.txt").write_text(f"A {word} film.<br />{i}")
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("no label")
    (root / "train" / "labeledBow.feat").write_text("0 1:2")
    (root / "train" / "urls_pos.txt").write_text("http://")
    (root / "README").write_text("IMDB")
    splits = _loads(root)
    assert splits.modality == "text" and splits.class_names == ["neg", "pos"]
    assert splits.sizes() == {"train": 14, "val": 2, "test": 6}
    assert splits.x_train.dtype.kind == "U"
    assert splits.source == f"text folder {root} (22 texts, 2 classes)"
    for x, y in ((splits.x_train, splits.y_train), (splits.x_test, splits.y_test)):
        assert [("great" in text) for text in x] == [bool(label) for label in y]
        assert not any("<br />" in text for text in x)
    assert "ignored train/unsup/ (unlabelled examples)" in splits.notes
    assert "ignored train/labeledBow.feat, train/urls_pos.txt next to the class folders" \
        in splits.notes
    assert "ignored README next to the train/val/test folders" in splits.notes


def test_empty_and_non_utf8_texts_stop_or_are_skipped(tmp_path):
    root = tmp_path / "reviews"
    for label in ("neg", "pos"):
        (root / label).mkdir(parents=True)
        for i in range(8):
            (root / label / f"{i}.txt").write_text(f"{label} {i}")
    (root / "neg" / "blank.txt").write_text("  \n")
    _rejects(root, r"blank\.txt' is empty.*--skip-bad")
    (root / "pos" / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "neg" / "blank.txt").unlink()
    _rejects(root, r"latin\.txt' is not UTF-8 text.*--skip-bad")
    (root / "neg" / "blank.txt").write_text("")
    splits = _loads(root, skip_bad=True)
    assert sum(splits.sizes().values()) == 16
    assert "skipped 2 bad file(s): neg/blank.txt, pos/latin.txt" in splits.notes


# Tables

def _reviews(n=10):
    return [(f"good, very good {i}" if i % 2 else f"bad {i}", "pos" if i % 2 else "neg", str(i))
            for i in range(2 * n)]


def test_csv_with_inferred_columns_and_a_bom(tmp_path):
    # The byte-order mark sits before "Review": only a BOM-aware read finds that name.
    path = _write_csv(tmp_path / "reviews.csv", [("Review", "sentiment", "id"), *_reviews()])
    assert path.read_bytes().startswith(b"\xef\xbb\xbfReview")
    splits = _loads(path)
    assert splits.modality == "text" and splits.class_names == ["neg", "pos"]
    assert splits.sizes() == {"train": 14, "val": 2, "test": 4}
    assert splits.source == f"CSV file {path} (20 texts, 2 classes)"
    assert all(text.startswith("good, very good") == bool(y)
               for text, y in zip(splits.x_train, splits.y_train))
    assert ("inferred the text column 'Review' (by its name) and the label column 'sentiment' "
            "(by its name); pass --text-column/--label-column to choose others") in splits.notes


def test_two_unnamed_columns_with_integer_labels_sort_numerically(tmp_path):
    rows = [(f"words {i}", 10 if i % 2 else 2) for i in range(20)]
    path = _write_csv(tmp_path / "data.csv", [("a", "b"), *rows])
    splits = _loads(path)
    assert splits.class_names == ["2", "10"]
    assert all((int(text.split()[1]) % 2 == 1) == bool(y)  # label 10 rows are the odd ones
               for text, y in zip(splits.x_train, splits.y_train))
    assert "mapped labels 2, 10 to class indices 0-1" in splits.notes
    assert any("the label column 'b' (of two columns, the one with fewer distinct values)"
               in note for note in splits.notes)


@pytest.mark.parametrize("header, label", [(("review", "author"), "author"),
                                           (("review", "score_text"), "score_text")])
def test_a_label_column_not_named_as_one_and_with_many_values_is_not_guessed(tmp_path, header,
                                                                            label):
    rows = [(f"film number {i} was {'good' if i % 2 else 'bad'}", f"value {i}") for i in range(40)]
    path = _write_csv(tmp_path / "reviews.csv", [header, *rows])
    _rejects(path, rf"has columns review, {label}; none is named like a label column .*'{label}' "
                   r"has 40 distinct values in 40 rows, too many for classes. Pass --label-column")


def test_tsv_with_explicit_columns_and_a_split_column(tmp_path):
    rows = [("speaker", "utterance", "intent", "split")]
    rows += [("ann", f"book a table {i}", "book", "train" if i < 8 else "test") for i in range(10)]
    rows += [("bob", f"play a song {i}", "play", "train" if i < 8 else "TEST") for i in range(10)]
    path = _write_csv(tmp_path / "intents.tsv", rows, delimiter="\t")
    _rejects(path, "has columns speaker, utterance, intent, split; tfopt cannot tell which "
                   "holds the text and which the label. Pass --text-column and --label-column")
    splits = _loads(path, text_column="utterance", label_column="intent")
    assert splits.class_names == ["book", "play"]
    assert splits.sizes() == {"train": 14, "val": 2, "test": 4}
    assert sorted(splits.x_test) == ["book a table 8", "book a table 9",
                                     "play a song 8", "play a song 9"]
    assert "split the rows into train/val/test by column 'split'" in splits.notes
    assert not any(note.startswith("inferred") for note in splits.notes)


def test_unknown_column_suggests_the_nearest(tmp_path):
    path = _write_csv(tmp_path / "reviews.csv", [("review", "sentiment", "id"), *_reviews()])
    _rejects(path, r"no column 'reveiw' \(--text-column\)\. Columns: review, sentiment, id\. "
                   r"Did you mean 'review'\?", text_column="reveiw")
    _rejects(path, "no column 'Label' \\(--label-column\\)", label_column="Label")


def test_jsonl_with_string_labels_blank_and_bad_lines(tmp_path):
    lines = [json.dumps({"text": f"win money {i}" if i % 2 else f"hi mum {i}",
                         "label": "spam" if i % 2 else "ham"}) for i in range(20)]
    lines[4:4] = ["", "{not json"]
    path = tmp_path / "sms.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _rejects(path, r"has 1 line with invalid JSON \(line 6: .*\): line 6\..*--skip-bad")
    splits = _loads(path, skip_bad=True)
    assert splits.class_names == ["ham", "spam"] and sum(splits.sizes().values()) == 20
    assert any(note.startswith("skipped 1 line with invalid JSON (line 6") for note in
               splits.notes)


def test_empty_rows_are_named_or_skipped(tmp_path):
    rows = [("text", "label"), *[(f"t {i}", "a" if i % 2 else "b") for i in range(20)]]
    rows[2] = ("", "a")
    rows[4] = ("t 4", " ")
    path = _write_csv(tmp_path / "data.csv", rows)
    _rejects(path, r"has 2 rows with an empty text \('text'\) or label \('label'\): rows 3, 5\. "
                   r".*--skip-bad")
    splits = _loads(path, skip_bad=True)
    assert sum(splits.sizes().values()) == 18
    assert "skipped 2 rows with an empty text ('text') or label ('label') (rows 3, 5)" \
        in splits.notes


def test_single_label_value_is_rejected(tmp_path):
    path = _write_csv(tmp_path / "data.csv", [("text", "label"), ("a", "x"), ("b", "x")])
    _rejects(path, "only one class, 'x'.*column 'label' needs at least two")


@pytest.mark.parametrize("name, content, match", [
    ("empty.csv", b"", "has no header line"),
    ("header.csv", b"text,label\n", "has no data rows"),
    ("latin.csv", "text,label\ncaf\xe9,a\n".encode("latin-1"), "is not UTF-8 text.*Re-save"),
    ("wide.csv", b"text,label\nfine,a\nthis, is, bad,b\n",
     r"1 row with more fields than the header's 2 \(quote texts that contain commas\): row 3"),
    ("split.csv", b"text,label,split\nx,a,train\ny,b,dev\n",
     r"column 'split' has 1 value.*other than train, val, validation or test "
     r"\(first 'dev' in row 3"),
    ("list.jsonl", b'{"text": "x", "label": "a"}\n[1, 2]\n',
     r"1 line with a JSON value other than an object \(\{\.\.\.\}\): line 2"),
])
def test_bad_tables_are_explained(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    _rejects(tmp_path / name, match)


# NumPy archives

def test_npz_images_with_x_test(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 10)
    x = (rng.random((20, 8, 8)) * 0.5 + y[:, None, None] * 0.5).astype("float32")
    x_test = rng.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    np.savez(tmp_path / "data.npz", x=x, y=y, x_test=x_test, y_test=np.array([0, 1] * 3))
    splits = _loads(tmp_path / "data.npz")
    assert splits.sizes() == {"train": 18, "val": 2, "test": 6}
    assert splits.input_shape == (8, 8, 1) and splits.x_train.dtype == np.uint8
    assert splits.x_train[splits.y_train == 1].min() >= 127  # 0-1 floats scaled to 0-255
    np.testing.assert_array_equal(splits.x_test, x_test)
    assert "scaled x from 0-1 floats to uint8 0-255" in splits.notes
    assert splits.source == f"NumPy file {tmp_path / 'data.npz'} (26 images, 2 classes)"


def test_npz_keras_names_given_validation_and_image_size(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 10, 12, 4)).astype("int64")  # RGBA, not uint8
    y = np.arange(20) % 2 + 5
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_val=x[:4], y_val=y[:4])
    splits = _loads(tmp_path / "data.npz", image_size="5x6")
    assert splits.class_names == ["5", "6"] and splits.input_shape == (5, 6, 3)
    assert splits.sizes() == {"train": 16, "val": 4, "test": 4}
    assert splits.notes[:2] == ["converted x_train from int64 to uint8",
                                "dropped the alpha channel of x_train"]
    assert "resized all images to 5x6 (--image-size)" in splits.notes
    assert "used the given train and val parts; carved 20% of train for test" in splits.notes


def test_npz_texts(tmp_path):
    texts = np.array([f"{'yes' if i % 2 else 'no'} {i}" for i in range(20)])
    np.savez(tmp_path / "texts.npz", x=texts, y=np.array(["neg", "pos"] * 10))
    splits = _loads(tmp_path / "texts.npz")
    assert splits.modality == "text" and splits.class_names == ["neg", "pos"]
    assert all(text.startswith("yes") == bool(y) for text, y in zip(splits.x_train, splits.y_train))
    assert splits.sizes() == {"train": 14, "val": 2, "test": 4}
    assert "carved 20% for test, then 10% of the rest for validation (stratified, seeded)" \
        in splits.notes


@pytest.mark.parametrize("arrays, match", [
    (dict(x=np.array([["a"], 1], dtype=object), y=np.array([0, 1])), "fixed-width unicode"),
    (dict(x=np.zeros((20, 5)), y=np.zeros(20)), r"shape \(20, 5\).*image and text classifiers"),
    (dict(x=np.zeros((20, 4, 4)), y=np.zeros(19)), "x holds 20 examples but y 19 labels"),
    (dict(images=np.zeros((20, 4, 4))), "holds arrays images, not x and y"),
    (dict(x=np.zeros((2, 4, 4)), y=np.zeros(2), x_test=np.zeros((2, 4, 4))),
     "x_test but no y_test"),
    (dict(x=np.full((2, 4, 4), np.nan), y=np.zeros(2)), "from nan to nan.*without NaN"),
    (dict(x=np.zeros((2, 4, 4)), y=np.zeros((2, 3))), r"y has shape \(2, 3\).*argmax"),
])
def test_bad_npz_files_are_explained(tmp_path, arrays, match):
    np.savez(tmp_path / "data.npz", **arrays)
    _rejects(tmp_path / "data.npz", match)


def test_npz_that_is_not_a_zip(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"garbage")
    _rejects(tmp_path / "data.npz", r"is not a \.npz archive.*np\.savez")


def test_suggest_sequence_length():
    assert suggest_sequence_length(["a short text"] * 100) == 16
    assert suggest_sequence_length([" ".join(["w"] * n) for n in range(1, 101)]) == 96
    assert suggest_sequence_length(["w " * 1000]) == 400
    assert suggest_sequence_length([]) == 16


def test_the_modality_is_sniffed_from_file_kinds_without_reading_the_data(tmp_path):
    from tfopt.data.user_data import sniff_modality

    (tmp_path / "pics" / "cat").mkdir(parents=True)
    (tmp_path / "pics" / "cat" / "a.PNG").write_bytes(b"not even an image")
    (tmp_path / "reviews" / "train" / "pos").mkdir(parents=True)
    (tmp_path / "reviews" / "README").write_text("x")
    (tmp_path / "reviews" / "train" / "pos" / "1.txt").write_text("good")
    np.savez(tmp_path / "t.npz", x=np.array(["a", "b"]), y=np.array([0, 1]))
    np.savez(tmp_path / "i.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([0, 1]))
    (tmp_path / "r.tsv").write_text("text\tlabel\n")
    assert [sniff_modality(tmp_path / name) for name in ("pics", "reviews", "t.npz", "i.npz",
                                                         "r.tsv")] == [
        "image", "text", "text", "image", "text"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no image .* or .txt files"):
        sniff_modality(tmp_path / "empty")
    with pytest.raises(InputError, match="is a .xlsx file, which tfopt cannot read"):
        (tmp_path / "r.xlsx").write_text("")
        sniff_modality(tmp_path / "r.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        sniff_modality(tmp_path / "nope")
