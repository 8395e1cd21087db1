"""Binary classification data sets for the MLP: generated 2-D sets, bundled ones, and uploaded CSV files.

Every loader returns a ``Dataset`` already split (seeded, stratified) into a
training and a test set, with features standardised by the statistics of the
training split only, so nothing about the test set leaks into training.
``DATASETS`` declares each loader's parameters (default, range, meaning) once,
with ``optim.Hyperparameter``, so the app builds its controls from it.
"""

from __future__ import annotations

import codecs
import csv
import functools
import inspect
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from optim.hyper import Hyperparameter, HyperparameterError, validate_all

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 200
MIN_ROWS = 10
# Control characters other than tab and line breaks do not occur in text a spreadsheet writes.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class DatasetError(ValueError):
    """A data set cannot be built from what the user gave; the message says why and what to fix."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A binary task split into training and test sets; X standardised, y of 0/1 ints.

    ``mean`` and ``scale`` are the training split's per-feature statistics
    used for standardising, so a raw point ``x`` maps to ``(x - mean) / scale``.
    ``is_2d`` says the points can be drawn in the plane (decision boundaries).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    description: str
    is_2d: bool
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    @property
    def n_features(self) -> int:
        """Return the number of input features."""
        return self.X_train.shape[1]

    @property
    def n_train(self) -> int:
        """Return the number of training examples."""
        return self.X_train.shape[0]

    @property
    def n_test(self) -> int:
        """Return the number of test examples."""
        return self.X_test.shape[0]


# -- shared declarations ---------------------------------------------------------

N_SAMPLES = Hyperparameter("n_samples", 400, 20, 5000, kind=int, doc="number of points, both classes together",
                           label="Points")
SEED = Hyperparameter("seed", 0, 0, 2**32 - 1, kind=int, doc="random seed for the points and the train/test split",
                      label="Data seed")
TEST_FRACTION = Hyperparameter("test_fraction", 0.25, 0.1, 0.5, doc="fraction of the examples held out as the test set",
                               label="Test fraction")


def _noise(default: float, high: float, doc: str = "standard deviation of the Gaussian noise added to each point"):
    return Hyperparameter("noise", default, 0.0, high, doc=doc, label="Noise")


def _check(decls: Sequence[Hyperparameter], values: dict, owner: str) -> dict:
    """Return the validated parameter values, raising DatasetError with the declaration's message."""
    try:
        return validate_all(tuple(decls), values, owner)
    except HyperparameterError as e:
        raise DatasetError(str(e)) from None


def _standardise(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return both splits standardised by the training split's mean and std, and those statistics."""
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    # A constant feature (a digit's always-blank corner pixel) carries no information; leave it at 0.
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (X_train - mean) / scale, (X_test - mean) / scale, mean, scale


def _split(name: str, X: np.ndarray, y: np.ndarray, feature_names: Sequence[str], description: str,
           seed: int, test_fraction: float, is_2d: bool) -> Dataset:
    """Return a Dataset from the raw X, y: seeded stratified split, then standardised by the training split."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_fraction, stratify=y, random_state=seed,
    )
    X_tr, X_te, mean, scale = _standardise(X_tr, X_te)
    return Dataset(name, np.ascontiguousarray(X_tr), y_tr, np.ascontiguousarray(X_te), y_te,
                   tuple(feature_names), description, is_2d, mean, scale)


# -- generated 2-D sets ------------------------------------------------------------

_XY = ("x1", "x2")


def declared(title: str, decls: Sequence[Hyperparameter]) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Return a decorator making ``build(**values)`` a loader whose keywords are ``decls``, validated once.

    The declarations are the one source of every default and range: the
    loader's signature is generated from them, its values are checked by them
    (``DatasetError`` names the value as the form shows it), and the app's
    controls are built from them.
    """
    def wrap(build: Callable[..., Dataset]) -> Callable[..., Dataset]:
        @functools.wraps(build)
        def loader(**values: Any) -> Dataset:
            return build(**_check(decls, values, title))

        loader.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(h.name, inspect.Parameter.KEYWORD_ONLY, default=h.default) for h in decls],
            return_annotation=Dataset)
        return loader
    return wrap


MOONS_PARAMS = (N_SAMPLES, _noise(0.2, 1.0), SEED, TEST_FRACTION)
CIRCLES_PARAMS = (N_SAMPLES, _noise(0.1, 1.0), SEED, TEST_FRACTION)
XOR_PARAMS = (N_SAMPLES, _noise(0.1, 1.0), SEED, TEST_FRACTION)
SPIRAL_PARAMS = (N_SAMPLES, _noise(0.05, 0.5), SEED, TEST_FRACTION)
#: how far the arms wind; a keyword of ``spiral`` but no control on the page
TURNS = Hyperparameter("turns", 1.5, 0.25, 4, doc="turns of each spiral arm", label="Turns")
BLOBS_PARAMS = (N_SAMPLES, _noise(1.5, 5.0, "standard deviation of each blob"), SEED, TEST_FRACTION)


@declared("two moons", MOONS_PARAMS)
def two_moons(n_samples: int, noise: float, seed: int, test_fraction: float) -> Dataset:
    """Return two interleaving half circles: no straight line separates them."""
    X, y = skd.make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return _split("two moons", X, y, _XY, f"Two interleaving half moons, {n_samples} points, "
                  f"noise {noise:g}. A straight line cannot separate them; one hidden layer can.",
                  seed, test_fraction, True)


@declared("circles", CIRCLES_PARAMS)
def circles(n_samples: int, noise: float, seed: int, test_fraction: float) -> Dataset:
    """Return a small circle (label 1) inside a large one (label 0)."""
    X, y = skd.make_circles(n_samples=n_samples, noise=noise, factor=0.5, random_state=seed)
    return _split("circles", X, y, _XY, f"A ring around a disc, {n_samples} points, noise {noise:g}. "
                  "The boundary must close around the inner class.", seed, test_fraction, True)


@declared("XOR", XOR_PARAMS)
def xor(n_samples: int, noise: float, seed: int, test_fraction: float) -> Dataset:
    """Return points in the square [-1, 1]^2 labelled 1 where x1 and x2 have the same sign."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    # Labels come from the clean position, so noise blurs the quadrant borders as measurement error would.
    X = X + noise * rng.standard_normal(X.shape)
    return _split("XOR", X, y, _XY, f"XOR: opposite quadrants share a class, {n_samples} points, "
                  f"noise {noise:g}. The classic problem a single neuron cannot solve.", seed, test_fraction, True)


@declared("spiral", (*SPIRAL_PARAMS, TURNS))
def spiral(n_samples: int, noise: float, seed: int, test_fraction: float, turns: float) -> Dataset:
    """Return two interleaved spiral arms, one per class, radius up to 1."""
    rng = np.random.default_rng(seed)
    n = n_samples
    n1 = n // 2
    y = np.r_[np.zeros(n - n1, dtype=np.int64), np.ones(n1, dtype=np.int64)]
    # sqrt spreads the points evenly along the arm's length instead of crowding the centre.
    r = np.sqrt(rng.uniform(0.0, 1.0, n)) * 0.95 + 0.05
    theta = r * turns * 2 * np.pi + np.pi * y
    X = np.c_[r * np.cos(theta), r * np.sin(theta)] + noise * rng.standard_normal((n, 2))
    return _split("spiral", X, y, _XY, f"Two interleaved spiral arms ({turns:g} turns), {n} points, "
                  f"noise {noise:g}. Hard: it needs a deeper or wider network and many epochs.",
                  seed, test_fraction, True)


@declared("blobs", BLOBS_PARAMS)
def blobs(n_samples: int, noise: float, seed: int, test_fraction: float) -> Dataset:
    """Return two Gaussian blobs whose overlap grows with ``noise`` (their standard deviation)."""
    X, y = skd.make_blobs(n_samples=n_samples, centers=[(-2.0, -1.0), (2.0, 1.0)],
                          cluster_std=max(noise, 1e-3), random_state=seed)
    return _split("blobs", X, y, _XY, f"Two Gaussian blobs, {n_samples} points, standard deviation "
                  f"{noise:g}. Nearly linear: a baseline every optimizer should solve.", seed, test_fraction, True)


# -- bundled sets ----------------------------------------------------------------------

DIGIT_A = Hyperparameter("positive", 3, 0, 9, kind=int, doc="digit of class 1", label="Digit of class 1")
DIGIT_B = Hyperparameter("negative", 8, -1, 9, kind=int, doc="digit of class 0 (-1: every other digit)",
                         label="Digit of class 0")


def _digit_set(value: Any, what: str) -> tuple[int, ...]:
    """Return a tuple of distinct digits 0..9 from an int or a sequence of ints."""
    items = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    out = []
    for d in items:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not DIGIT_A.low <= d <= DIGIT_A.high:
            raise DatasetError(f"{what} digits must be whole numbers from 0 to 9, got {d!r}")
        out.append(int(d))
    if not out:
        raise DatasetError(f"choose at least one {what} digit")
    return tuple(sorted(set(out)))


def digits(positive: int | Sequence[int] = DIGIT_A.default, negative: int | Sequence[int] | None = DIGIT_B.default,
           seed: int = SEED.default, test_fraction: float = TEST_FRACTION.default) -> Dataset:
    """Return scikit-learn's 8x8 handwritten digits as a binary task: ``positive`` digits (label 1) vs ``negative``.

    Each class is one digit or several; ``negative=None`` (or -1, as the
    page's control gives it) means every other digit (one digit against the rest).
    """
    p = _check((SEED, TEST_FRACTION), {"seed": seed, "test_fraction": test_fraction}, "digits")
    rest = negative is None or (isinstance(negative, (int, np.integer)) and negative == -1)
    pos = _digit_set(positive, "positive")
    neg = tuple(d for d in range(10) if d not in pos) if rest else _digit_set(negative, "negative")
    if set(pos) & set(neg):
        raise DatasetError(f"a digit cannot be in both classes: {sorted(set(pos) & set(neg))}")
    if not neg:
        raise DatasetError("the negative class is empty: leave at least one digit out of the positive class")
    data = skd.load_digits()
    keep = np.isin(data.target, pos + neg)
    X, y = data.data[keep], np.isin(data.target[keep], pos).astype(np.int64)
    names = tuple(f"pixel {r},{c}" for r in range(8) for c in range(8))
    pos_t = ", ".join(map(str, pos))
    neg_t = "the other digits" if rest else ", ".join(map(str, neg))
    return _split(f"digits {pos_t} vs {neg_t}", X, y, names,
                  f"8x8 handwritten digits (scikit-learn), {len(y)} images: label 1 = {pos_t}, "
                  f"label 0 = {neg_t}. 64 pixel features.", p["seed"], p["test_fraction"], False)


@declared("breast cancer", (SEED, TEST_FRACTION))
def breast_cancer(seed: int, test_fraction: float) -> Dataset:
    """Return the Wisconsin breast cancer set (scikit-learn): 30 features, label 1 = malignant."""
    data = skd.load_breast_cancer()
    # scikit-learn codes benign as 1; a classifier that flags disease reads better with malignant = 1.
    y = (data.target == 0).astype(np.int64)
    return _split("breast cancer", data.data, y, tuple(data.feature_names),
                  f"Wisconsin diagnostic breast cancer (scikit-learn), {len(y)} tumours, 30 measurements; "
                  f"label 1 = malignant ({int(y.sum())}), 0 = benign ({int(len(y) - y.sum())}).",
                  seed, test_fraction, False)


# -- uploaded CSV ------------------------------------------------------------------------

def _utf16(raw: bytes) -> str | None:
    """Return the text of a UTF-16 file (Excel's "Unicode text"), or None when ``raw`` is not UTF-16.

    With a byte-order mark the encoding says so; without one, ASCII-range text
    in UTF-16 has a zero byte in every other position, which no CSV in a
    one-byte encoding has.
    """
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    else:
        head = raw[:4096]
        even, odd = head[0::2], head[1::2]
        if len(head) < 4 or len(head) % 2:
            return None
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            encoding = "utf-16-le"
        elif even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            encoding = "utf-16-be"
        else:
            return None
    try:
        return raw.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise DatasetError("this file looks like UTF-16 text but cannot be read as such; "
                           "save it as CSV UTF-8 and upload it again") from None


def _decode(data: bytes | bytearray | memoryview | str) -> str:
    """Return the file's text, or raise DatasetError for an empty, oversized or binary file."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > MAX_BYTES:
            raise DatasetError(f"the file is {len(raw) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
        utf16 = _utf16(raw)
        if utf16 is not None:
            text = utf16
        elif b"\x00" in raw:
            raise DatasetError("this does not look like a CSV text file (it contains binary data)")
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                # Spreadsheets on Windows often save Latin-1/cp1252; latin-1 maps every byte, binary is caught below.
                text = raw.decode("latin-1")
    elif isinstance(data, str):
        text = data.removeprefix("\ufeff")
        if len(text) > MAX_BYTES:
            raise DatasetError(f"the file is larger than {MAX_BYTES // 2**20} MB")
    else:
        raise DatasetError(f"expected the CSV file's bytes or text, got {type(data).__name__}")
    if not text.strip():
        raise DatasetError("the file is empty")
    control = len(_CONTROL.findall(text))
    if control > max(2, len(text) // 1000):
        raise DatasetError("this does not look like a CSV text file (it contains binary data)")
    return text


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_table(data: bytes | str) -> tuple[list[str], list[list[str]], list[int], bool]:
    """Return ``(column names, rows of cells, each row's line number, has_header)`` of a CSV file."""
    text = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            rows.append(cells)
            lines.append(reader.line_num)
            if len(rows) > MAX_ROWS + 1:
                raise DatasetError(f"the file has more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}")
    except csv.Error as e:
        raise DatasetError(f"the file is not valid CSV near line {reader.line_num}: {e}") from None
    if not rows:
        raise DatasetError("the file is empty")
    first = rows[0]
    has_header = not all(_is_number(c) for c in first if c)
    if has_header:
        names = [c or f"column {i + 1}" for i, c in enumerate(first)]
        rows, lines = rows[1:], lines[1:]
    else:
        names = [f"column {i + 1}" for i in range(len(first))]
    if len(rows) > MAX_ROWS:
        raise DatasetError(f"the file has {len(rows):,} rows of data; the limit is {MAX_ROWS:,}")
    if len(names) > MAX_COLUMNS:
        raise DatasetError(f"the file has {len(names)} columns; the limit is {MAX_COLUMNS}")
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DatasetError(f"the column name {n!r} appears twice in the header; rename one of them")
        seen.add(n)
    k = len(names)
    for i, (row, line) in enumerate(zip(rows, lines)):
        if len(row) > k and not any(row[k:]):
            rows[i] = row = row[:k]  # a trailing delimiter adds empty cells, not data
        if len(row) != k:
            raise DatasetError(f"line {line} has {len(row)} values but the header has {k} columns")
    return names, rows, lines, has_header


def csv_columns(data: bytes | str) -> list[str]:
    """Return the column names of a CSV file (``column 1``, ... when it has no header row)."""
    return _read_table(data)[0]


def _column_index(names: list[str], col: str | int, what: str) -> int:
    """Return the index of a column given by name (or by 0-based position)."""
    if isinstance(col, (int, np.integer)) and not isinstance(col, bool):
        if 0 <= col < len(names):
            return int(col)
        raise DatasetError(f"there is no {what} number {col}; the file has {len(names)} columns")
    if col in names:
        return names.index(col)
    shown = ", ".join(repr(n) for n in names[:12]) + (" ..." if len(names) > 12 else "")
    raise DatasetError(f"there is no {what} {col!r}; the columns are {shown}")


def _feature_column(cells: list[str], name: str, lines: list[int]) -> np.ndarray:
    """Return one feature column as floats, or raise DatasetError naming the first bad cell."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        for cell, line in zip(cells, lines):
            if not cell:
                raise DatasetError(f"line {line}, column {name!r} is empty: every feature needs a number") from None
            if not _is_number(cell):
                raise DatasetError(
                    f"line {line}, column {name!r} holds {cell[:30]!r}, which is not a number; "
                    "feature columns must be numeric (leave text columns out of the features)"
                ) from None
        raise
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise DatasetError(
            f"line {lines[i]}, column {name!r} is {cells[i]!r}: features must be finite numbers "
            f"(no NaN or infinity); {bad.size} such cell(s) in this column"
        )
    return values


def _labels(cells: list[str], name: str, lines: list[int]) -> tuple[np.ndarray, str]:
    """Return the labels as 0/1 and a sentence saying how the file's values were mapped."""
    missing = [line for cell, line in zip(cells, lines) if not cell or cell.lower() in ("nan", "na", "n/a", "null")]
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise DatasetError(f"{len(missing)} row(s) have no label in column {name!r} (lines {shown})")
    numeric = all(_is_number(c) for c in cells)
    keys = [float(c) for c in cells] if numeric else cells
    distinct = sorted(set(keys))
    if len(distinct) == 1:
        raise DatasetError(f"the label column {name!r} has only one value ({cells[0]!r}); "
                           "a classifier needs examples of two classes")
    if len(distinct) > 2:
        shown = ", ".join(repr(_label_text(v)) for v in distinct[:6]) + (" ..." if len(distinct) > 6 else "")
        raise DatasetError(f"the label column {name!r} has {len(distinct)} different values ({shown}); "
                           "this binary classifier needs exactly two")
    low, high = distinct
    y = np.array([k == high for k in keys], dtype=np.int64)
    if numeric and (low, high) == (0.0, 1.0):
        return y, f"label column {name!r} (0/1)"
    return y, f"label column {name!r}: {_label_text(low)!r} -> 0, {_label_text(high)!r} -> 1"


def _label_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def from_csv(data: bytes | str, label_column: str | int, feature_columns: Sequence[str | int] | None = None,
             seed: int = 0, test_fraction: float = 0.25, name: str = "uploaded CSV") -> Dataset:
    """Return a Dataset from a CSV file's bytes or text: numeric features and a two-valued label column.

    ``feature_columns=None`` uses every column except the label. A label
    column with exactly two distinct values that are not 0/1 is mapped to 0/1
    (the lower value, numerically or alphabetically, becomes 0); the
    description says how. Every problem raises DatasetError naming the line.
    """
    p = _check((SEED, TEST_FRACTION), {"seed": seed, "test_fraction": test_fraction}, "CSV data set")
    names, rows, lines, _ = _read_table(data)
    label = _column_index(names, label_column, "label column")
    if feature_columns is None:
        features = [i for i in range(len(names)) if i != label]
    else:
        if isinstance(feature_columns, (str, int)):
            feature_columns = [feature_columns]
        features = [_column_index(names, c, "feature column") for c in feature_columns]
        if label in features:
            raise DatasetError(f"the label column {names[label]!r} cannot also be a feature")
        if len(set(features)) != len(features):
            raise DatasetError("a feature column is listed twice")
    if not features:
        raise DatasetError("choose at least one feature column besides the label")
    if len(rows) < MIN_ROWS:
        raise DatasetError(f"the file has {len(rows)} rows of data; at least {MIN_ROWS} are needed "
                           "to train and to hold some out for testing")
    y, mapping = _labels([r[label] for r in rows], names[label], lines)
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise DatasetError("one class has a single example; each class needs at least 2 so that "
                           "both the training and the test set contain it")
    X = np.column_stack([_feature_column([r[j] for r in rows], names[j], lines) for j in features])
    feature_names = [names[j] for j in features]
    desc = (f"{name}: {len(rows)} rows, {len(features)} numeric feature(s); {mapping}; "
            f"{counts[1]} examples of class 1, {counts[0]} of class 0.")
    return _split(name, X, y, feature_names, desc, p["seed"], p["test_fraction"], len(features) == 2)


# -- registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetSpec:
    """One registered data set: its loader, declared parameters and a line of description."""

    name: str
    title: str
    loader: Callable[..., Dataset]
    parameters: tuple[Hyperparameter, ...]
    is_2d: bool
    doc: str

    def load(self, **params: Any) -> Dataset:
        """Return the data set built from ``params`` (defaults for the ones left out); the loader validates them."""
        unknown = sorted(set(params) - {h.name for h in self.parameters})
        if unknown:  # a keyword the loader takes but the page does not offer (spiral's turns) is not the registry's
            raise DatasetError(f"{self.title} has no hyperparameter {', '.join(map(repr, unknown))}; "
                               f"it takes {', '.join(h.name for h in self.parameters)}")
        return self.loader(**params)


DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("two_moons", "Two moons", two_moons, MOONS_PARAMS, True, "two interleaving half circles"),
    DatasetSpec("circles", "Circles", circles, CIRCLES_PARAMS, True, "a ring around a disc"),
    DatasetSpec("xor", "XOR", xor, XOR_PARAMS, True, "opposite quadrants share a class"),
    DatasetSpec("spiral", "Spiral", spiral, SPIRAL_PARAMS, True, "two interleaved spiral arms"),
    DatasetSpec("blobs", "Blobs", blobs, BLOBS_PARAMS, True, "two Gaussian clouds"),
    DatasetSpec("digits", "Digits 8x8", digits, (DIGIT_A, DIGIT_B, SEED, TEST_FRACTION), False,
                "handwritten digits, one digit against another (the article-style image task)"),
    DatasetSpec("breast_cancer", "Breast cancer", breast_cancer, (SEED, TEST_FRACTION), False,
                "30 tumour measurements, malignant or benign"),
)}


def load(name: str, **params: Any) -> Dataset:
    """Return the registered data set ``name`` built with ``params`` (e.g. ``load("xor", noise=0.2)``)."""
    try:
        spec = DATASETS[name]
    except (KeyError, TypeError):
        raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}") from None
    return spec.load(**params)


__all__ = [
    "Dataset", "DatasetError", "DatasetSpec", "DATASETS", "load",
    "two_moons", "circles", "xor", "spiral", "blobs", "digits", "breast_cancer",
    "from_csv", "csv_columns", "MAX_BYTES", "MAX_ROWS", "MAX_COLUMNS",
]
