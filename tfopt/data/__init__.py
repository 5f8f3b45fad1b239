"""Data: loaders (download, checksum, cache, offline paths), splits and tf.data pipelines."""
