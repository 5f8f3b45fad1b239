"""tfopt against plain keras-tuner and Keras, side by side: `python -m benchmarks --help`.

Not part of the installed package; run it from the repository root (`make bench`).
"""
