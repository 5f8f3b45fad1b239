"""`tfopt predict RUN_DIR --input ...`: the final model on raw images or raw text lines."""

import pathlib
import re
import sys

import numpy as np

from tfopt.data.user_data import IMAGE_SUFFIXES
from tfopt.errors import InputError
from tfopt.log import logger


def predict(run_dir, source, *, stdin=None):
    """Classifies raw inputs with a finished run's final model (its preprocessing built in).

    Args:
        run_dir: a finished run folder.
        source: for image runs, a folder of PNG/JPEG/BMP/GIF files or one image
            file; for text runs, a text file with one example per line, or "-"
            for standard input.

    Returns:
        A list of (input name, label, probability of that label), in input order.

    Raises:
        InputError: for a bad run folder, a missing or unreadable input, or
            input of the wrong kind for the run.
    """
    from tfopt.backend import import_tensorflow_quietly
    from tfopt.results.loading import load, load_results

    # a folder that is not a run, and a missing input, are refused before TensorFlow loads
    text = load_results(run_dir)["modality"] == "text"
    names = read_texts(source, stdin=stdin) if text else None
    paths = None if text else image_files(source)
    import_tensorflow_quietly()
    from tfopt.results.final import predict_raw

    run = load(run_dir)
    class_names = run.results["class_names"]
    if text:
        probabilities = predict_raw(run.model, np.array(names))
    else:
        channels = run.model.inputs[0].shape[-1]
        images = [read_image(path, channels) for path in paths]
        probabilities = np.zeros((len(images), len(class_names)), "float32")
        for shape in {image.shape for image in images}:  # one batch per image size
            which = [i for i, image in enumerate(images) if image.shape == shape]
            probabilities[which] = predict_raw(run.model, np.stack([images[i] for i in which]))
        names = [str(path) for path in paths]
    labels = probabilities.argmax(axis=1)
    return [(name, class_names[label], float(p[label]))
            for name, label, p in zip(names, labels, probabilities)]


def read_texts(source, *, stdin=None):
    """Non-empty lines of a UTF-8 text file, or of standard input for "-"."""
    if source == "-":
        text = (stdin or sys.stdin).read()
    else:
        path = pathlib.Path(source)
        if not path.is_file():
            raise InputError(f"--input '{source}' is not a file. This run classifies text: pass "
                             "a text file with one example per line, or - for standard input.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"--input '{source}' is not UTF-8 text ({error}).") from error
    all_lines = text.splitlines()
    lines = [line for line in all_lines if line.strip()]
    skipped = len(all_lines) - len(lines)
    if skipped:
        logger.warning(f"skipped {skipped} empty line(s) of --input {source}")
    if not lines:
        raise InputError(f"--input '{source}' holds no text; expected one example per line.")
    return lines


def image_files(source):
    """The image files of a folder (sorted), or the one image file `source` names."""
    path = pathlib.Path(source)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        raise InputError(f"--input '{source}' does not exist. This run classifies images: pass "
                         "a folder of PNG/JPEG/BMP/GIF files or one image file.")
    if not files:
        raise InputError(f"--input '{source}' holds no PNG/JPEG/BMP/GIF files.")
    return files


def read_image(path, channels):
    """Decodes an image file to a uint8 array with `channels` channels (converted if needed)."""
    import tensorflow as tf

    try:
        return tf.io.decode_image(path.read_bytes(), channels=channels,
                                  expand_animations=False).numpy()
    except (tf.errors.InvalidArgumentError, OSError) as error:
        reason = getattr(error, "message", str(error)).splitlines()[0]
        # without TensorFlow's op names: "{{function_node __wrapped__DecodeImage...}}", "[Op:...]"
        reason = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", reason).strip() or "unreadable"
        raise InputError(f"{path} is not a readable image ({reason}). Remove or replace it.") \
            from error
