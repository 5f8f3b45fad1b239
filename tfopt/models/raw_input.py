"""The final model's class: a functional model whose `predict` takes raw images as people
hold them (grey images with or without a channel axis, colour for grey and grey for colour)."""

import keras
import numpy as np

# ITU-R 601 luma, as Pillow's convert("L") computes grey (tfopt reads image files with it).
LUMA = np.array([0.299, 0.587, 0.114], dtype="float32")


@keras.saving.register_keras_serializable(package="tfopt")
class RawInputModel(keras.Model):
    """A functional model (`RawInputModel(inputs, outputs)`) whose `predict` and
    `predict_on_batch` bring NumPy image batches to its input's rank and channels first.

    Keras traces `predict` once per input rank and, given a second rank, relaxes its trace
    to an unknown shape that the model's input check then rejects ("as_list() is not defined
    on an unknown TensorShape"). Raw images of shape (n, h, w) and (n, h, w, c) therefore
    reach the model as (n, h, w, channels): a missing channel axis is added, colour becomes
    grey (luma) for a grey model, grey is repeated for a colour model, and an alpha channel
    is dropped. Anything else is refused with what was received and what is expected. Text
    inputs, tensors and datasets pass unchanged.

    `keras.models.load_model` needs the class registered: `import tfopt.models` first, or
    use `tfopt.load`.
    """

    def predict(self, x, *args, **kwargs):
        return super().predict(self.standardize_images(x), *args, **kwargs)

    def predict_on_batch(self, x):
        return super().predict_on_batch(self.standardize_images(x))

    def standardize_images(self, x):
        """`x` as a batch of images of the model's rank and channels (NumPy input to an
        image model only; anything else is returned as it is).

        Raises:
            ValueError: for an image batch of another rank or channel count.
        """
        shape = self.inputs[0].shape
        if len(shape) != 4 or not isinstance(x, (np.ndarray, list)):
            return x
        x = np.asarray(x)
        if x.dtype.kind not in "uif":
            return x
        channels = shape[-1]
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"Expected a batch of images of shape (n, height, width) or (n, height, width, "
                f"channels) with 1, 3 or 4 channels; received an array of shape {x.shape}. "
                "For one image, add a first axis: image[None].")
        if x.shape[-1] == channels:
            return x
        if x.shape[-1] == 4:  # RGBA: the colour, without alpha
            x = x[..., :3]
        if channels == 1 and x.shape[-1] == 3:
            return (x.astype("float32") @ LUMA)[..., None]
        if channels == 3 and x.shape[-1] == 1:
            return np.repeat(x, 3, axis=-1)
        return x
