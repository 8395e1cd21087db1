"""The article's mini-batch sampler, shared by data-defined surfaces and the MLP."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def minibatches(m: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield index arrays for one epoch: a fresh permutation of ``range(m)`` cut into batches.

    When ``batch_size`` does not divide ``m`` the last batch holds the
    ``m % batch_size`` leftover examples.
    """
    if m < 1:
        raise ValueError(f"need at least one example, got {m}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    perm = rng.permutation(m)
    for start in range(0, m, batch_size):
        yield perm[start:start + batch_size]
