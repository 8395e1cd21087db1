"""The article's mini-batch sampler: every epoch is a fresh permutation cut into batches, leftovers last."""

import numpy as np
import pytest

from surfaces.batches import minibatches


@pytest.mark.parametrize(("m", "b"), [(40, 8), (259, 32), (10, 3), (5, 5), (5, 9), (1, 1)])
def test_each_epoch_partitions_the_examples(m, b):
    rng = np.random.default_rng(0)
    for _ in range(3):
        batches = list(minibatches(m, b, rng))
        sizes = [len(x) for x in batches]
        assert sizes == [b] * (m // b) + ([m % b] if m % b else []) or (b > m and sizes == [m])
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(m))


def test_epochs_use_fresh_permutations_and_the_seed_reproduces_them():
    rng = np.random.default_rng(1)
    first = np.concatenate(list(minibatches(50, 7, rng)))
    second = np.concatenate(list(minibatches(50, 7, rng)))
    assert not np.array_equal(first, second)
    again = np.concatenate(list(minibatches(50, 7, np.random.default_rng(1))))
    np.testing.assert_array_equal(first, again)


def test_bad_sizes_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least one example"):
        list(minibatches(0, 4, rng))
    with pytest.raises(ValueError, match="batch size"):
        list(minibatches(10, 0, rng))
