"""Data set loaders: shapes, labels, standardisation, the registry, and every way a CSV can be bad."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surfaces.network import datasets as ds
from surfaces.network.datasets import DATASETS, Dataset, DatasetError, from_csv


def check_dataset(d: Dataset, n_features: int, n_total: int | None = None, test_fraction: float = 0.25):
    assert d.X_train.shape == (d.n_train, n_features) and d.X_test.shape == (d.n_test, n_features)
    assert d.y_train.shape == (d.n_train,) and d.y_test.shape == (d.n_test,)
    if n_total is not None:
        assert d.n_train + d.n_test == n_total
        assert d.n_test == pytest.approx(test_fraction * n_total, abs=1)
    for y in (d.y_train, d.y_test):
        assert set(np.unique(y)) == {0, 1}
    assert np.isfinite(d.X_train).all() and np.isfinite(d.X_test).all()
    # Standardised with the training split only: its mean is 0 and its std 1 (or 0 for a constant feature).
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-9)
    std = d.X_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-9) | (std < 1e-12))
    assert len(d.feature_names) == n_features
    assert d.description


@pytest.mark.parametrize("loader", [ds.two_moons, ds.circles, ds.xor, ds.spiral, ds.blobs])
def test_2d_loaders(loader):
    d = loader(n_samples=200, noise=0.1, seed=3)
    check_dataset(d, 2, 200)
    assert d.is_2d
    # Stratified: both splits keep the overall class balance.
    assert abs(d.y_train.mean() - d.y_test.mean()) < 0.1
    again = loader(n_samples=200, noise=0.1, seed=3)
    np.testing.assert_array_equal(d.X_train, again.X_train)
    other = loader(n_samples=200, noise=0.1, seed=4)
    assert not np.array_equal(d.X_train, other.X_train)


def test_xor_and_spiral_labels_follow_their_geometry():
    # Without noise the raw positions decide the label exactly: undo the standardisation to check.
    d = ds.xor(n_samples=400, noise=0.0, seed=0)
    raw = d.X_train * d.scale + d.mean
    np.testing.assert_array_equal(d.y_train, (raw[:, 0] * raw[:, 1] > 0).astype(int))
    s = ds.spiral(n_samples=400, noise=0.0, seed=0)
    raw = s.X_train * s.scale + s.mean
    r = np.hypot(raw[:, 0], raw[:, 1])
    assert r.max() <= 1.0 + 1e-9 and r.min() >= 0.05 - 1e-9
    assert s.y_train.mean() == pytest.approx(0.5, abs=0.02)


def test_test_split_uses_training_statistics():
    d = ds.blobs(n_samples=400, noise=2.0, seed=1)
    raw_test = d.X_test * d.scale + d.mean
    raw_train = d.X_train * d.scale + d.mean
    np.testing.assert_allclose(d.mean, raw_train.mean(axis=0))
    np.testing.assert_allclose(d.scale, raw_train.std(axis=0))
    assert not np.allclose(raw_test.mean(axis=0), d.mean, atol=1e-6)


def test_digits_pair_and_one_vs_rest():
    d = ds.digits(positive=(3,), negative=(8,))
    check_dataset(d, 64, 183 + 174)  # scikit-learn ships 183 threes and 174 eights
    assert not d.is_2d
    rest = ds.digits(positive=3, negative=None)
    check_dataset(rest, 64, 1797)
    assert (rest.y_train.sum() + rest.y_test.sum()) == 183
    with pytest.raises(DatasetError, match="both classes"):
        ds.digits(positive=(3,), negative=(3, 8))
    with pytest.raises(DatasetError, match="0 to 9"):
        ds.digits(positive=(10,))


def test_breast_cancer_malignant_is_one():
    d = ds.breast_cancer(seed=0)
    check_dataset(d, 30, 569)
    assert d.y_train.sum() + d.y_test.sum() == 212  # 212 malignant tumours in the Wisconsin set


def test_registry_declares_parameters_and_loads_defaults():
    for name, spec in DATASETS.items():
        assert spec.name == name and spec.title and spec.doc
        d = spec.load()
        assert d.is_2d == spec.is_2d
        for h in spec.parameters:
            assert h.low is None or h.high is None or h.low <= h.default <= h.high
    d = ds.load("digits", positive=1, negative=7, seed=2)
    assert "1" in d.name and "7" in d.name
    assert ds.load("digits", negative=-1).n_train + ds.load("digits", negative=-1).n_test == 1797
    with pytest.raises(DatasetError, match="n_samples"):
        ds.load("two_moons", n_samples=5)
    with pytest.raises(DatasetError, match="n_samples"):
        ds.two_moons(n_samples=10_000)
    with pytest.raises(DatasetError, match="unknown data set"):
        ds.load("cats")
    with pytest.raises(DatasetError, match="no hyperparameter 'colour'"):
        ds.load("xor", colour=3)


# -- CSV ---------------------------------------------------------------------------------

def table(n=20, header="a,b,label", label=lambda i: i % 2):
    rows = [header] if header else []
    rows += [f"{i * 0.5},{(i * 7) % 5},{label(i)}" for i in range(n)]
    return "\n".join(rows) + "\n"


def test_good_csv_loads():
    d = from_csv(table().encode(), "label")
    check_dataset(d, 2, 20)
    assert d.feature_names == ("a", "b") and d.is_2d
    assert "(0/1)" in d.description
    # Undoing the standardisation gives back the file's numbers.
    raw = np.vstack([d.X_train, d.X_test]) * d.scale + d.mean
    expected = {(i * 0.5, float((i * 7) % 5)) for i in range(20)}
    assert {tuple(np.round(r, 9)) for r in raw} == expected


def test_csv_options_semicolons_bom_no_header_and_feature_choice():
    text = "\ufeff" + table(header="x;y;cls").replace(",", ";")
    d = from_csv(text.encode("utf-8"), "cls", feature_columns=["y"])
    assert d.feature_names == ("y",) and not d.is_2d
    no_header = from_csv(table(header=""), 2)
    assert no_header.feature_names == ("column 1", "column 2")
    assert ds.csv_columns(table()) == ["a", "b", "label"]
    with pytest.raises(DatasetError, match="cannot also be a feature"):
        from_csv(table(), "label", feature_columns=["a", "label"])


def test_two_valued_text_labels_are_mapped_and_said():
    d = from_csv(table(label=lambda i: "dog" if i % 3 else "cat"), "label")
    assert "'cat' -> 0, 'dog' -> 1" in d.description
    assert d.y_train.sum() + d.y_test.sum() == sum(1 for i in range(20) if i % 3)
    n = from_csv(table(label=lambda i: (-1, 1)[i % 2]), "label")
    assert "'-1' -> 0, '1' -> 1" in n.description


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"   \n\n  \n", "empty"),
    (bytes(range(256)) * 4, "binary"),
    (bytes(range(1, 32)) * 50, "binary"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" * 20, "binary"),
    ("a,b,label\n" + "".join(f"{i},x{i},{i % 2}\n" for i in range(20)), "line 2, column 'b' holds 'x0', which is not a number"),
    ("a,b,label\n" + "".join(f"{i},,{i % 2}\n" for i in range(20)), "column 'b' is empty"),
    (table(), "no label column 'target'"),
    ("a,b,label\n" + "".join(f"{i},{i},{'' if i == 4 else i % 2}\n" for i in range(20)), "no label .*line.* 6"),
    (table(label=lambda i: i % 3), "3 different values"),
    (table(label=lambda i: 1), "only one value"),
    ("a,b,label\n" + "".join(f"{i},{'nan' if i == 3 else i},{i % 2}\n" for i in range(20)), "finite"),
    ("a,b,label\n" + "".join(f"{i},{'inf' if i == 3 else i},{i % 2}\n" for i in range(20)), "finite"),
    (table(n=5), "at least 10"),
    ("a,b,label\n1,2\n" + table(header=""), "line 2 has 2 values but the header has 3"),
    ("a,a,label\n" + table(header=""), "appears twice"),
])
def test_bad_csv_messages(data, words):
    label = "target" if "target" in words else "label"
    with pytest.raises(DatasetError, match=words):
        from_csv(data, label)


def test_csv_size_limits():
    with pytest.raises(DatasetError, match="MB"):
        from_csv(b"1,0\n" * (ds.MAX_BYTES // 4 + 1), "column 2")
    many_rows = "a,label\n" + "1,0\n" * (ds.MAX_ROWS + 5)
    with pytest.raises(DatasetError, match="rows"):
        from_csv(many_rows, "label")
    wide = ",".join(f"c{i}" for i in range(ds.MAX_COLUMNS + 1)) + "\n" + ",".join("1" * (ds.MAX_COLUMNS + 1))
    with pytest.raises(DatasetError, match="columns"):
        from_csv(wide, "c0")
    assert issubclass(DatasetError, ValueError)


def test_latin1_text_is_read():
    text = "température,label\n" + "".join(f"{i},{i % 2}\n" for i in range(12))
    d = from_csv(text.encode("latin-1"), "label")
    assert d.feature_names == ("température",)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 1)), min_size=12, max_size=40)
       .filter(lambda rows: min(sum(r[1] for r in rows), sum(1 - r[1] for r in rows)) >= 3))
def test_csv_numbers_survive_the_round_trip(rows):
    text = "x,y\n" + "".join(f"{x!r},{y}\n" for x, y in rows)
    d = from_csv(text, "y")
    raw = np.concatenate([d.X_train[:, 0], d.X_test[:, 0]]) * d.scale[0] + d.mean[0]
    labels = np.concatenate([d.y_train, d.y_test])
    for cls in (0, 1):
        want = np.sort([x for x, y in rows if y == cls])
        np.testing.assert_allclose(np.sort(raw[labels == cls]), want, rtol=1e-9, atol=1e-9 * d.scale[0])


def test_a_refused_setting_is_named_as_the_form_shows_it_and_as_the_code_takes_it():
    with pytest.raises(DatasetError, match=r"Points \(n_samples\) must be at least 20, got 5"):
        ds.two_moons(n_samples=5)
    with pytest.raises(DatasetError, match=r"Test fraction \(test_fraction\) must be at most 0.5"):
        ds.circles(test_fraction=0.9)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_is_read_with_or_without_a_byte_order_mark(encoding):
    """Excel's "Unicode text" is UTF-16: every ASCII character has a zero byte beside it, which is not binary data."""
    text = "température,label\n" + "".join(f"{i * 0.5},{i % 2}\n" for i in range(12))
    d = from_csv(text.encode(encoding), "label")
    assert d.feature_names == ("température",)
    raw = np.sort(np.concatenate([d.X_train[:, 0], d.X_test[:, 0]]) * d.scale[0] + d.mean[0])
    np.testing.assert_allclose(raw, [i * 0.5 for i in range(12)])
    with pytest.raises(DatasetError, match="UTF-16"):
        from_csv(b"\xff\xfe" + "a,label\n1,0\n".encode("utf-16-le") + b"\x00\xd8", "label")  # a lone surrogate
