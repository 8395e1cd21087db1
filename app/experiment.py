"""The Experiment: the MLP panel's Scene, one frozen value that decides a training comparison."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from optim import HyperparameterError

from .racer import PALETTE, Racer
from .scene import SceneError

LIMITS = {
    "epochs": (1, 2000),
    "batch_size": (1, 20_000),
    "hidden_layers": (1, 4),
    "hidden_units": (1, 256),
    "racers": (1, 6),
    "seed": (0, 2**31 - 1),
}

ARTICLE_RACERS = tuple(
    Racer(name, (("lr", 0.01),), color=PALETTE[i]) for i, name in enumerate(("sgd", "momentum", "rmsprop", "adam"))
)


@dataclass(frozen=True)
class Experiment:
    """Everything that decides a training comparison on the MLP panel."""

    dataset: str = "two_moons"
    dataset_params: tuple[tuple[str, float], ...] = ()
    csv_sha: str = ""  # an uploaded file, by its content hash (the bytes travel beside the value)
    csv_label: str = ""
    hidden: tuple[int, ...] = (16, 16)
    keep_prob: float = 1.0
    batch_size: int = 32
    epochs: int = 100
    racers: tuple[Racer, ...] = ARTICLE_RACERS
    seed: int = 0
    dtype: str = "float32"
    title: str = field(default="", compare=False)

    def check(self) -> Experiment:
        """Return self when every field is valid, else raise SceneError saying what to change."""
        from surfaces.datasets import DATASETS

        if self.dataset == "csv":
            if not self.csv_sha:
                raise SceneError("upload a CSV file first, or choose another data set")
            if not self.csv_label:
                raise SceneError("choose the CSV column that holds the 0/1 labels")
        elif self.dataset not in DATASETS:
            raise SceneError(f"unknown data set {self.dataset!r}")
        lo, hi = LIMITS["hidden_layers"]
        if not lo <= len(self.hidden) <= hi:
            raise SceneError(f"use 1 to {hi} hidden layers, got {len(self.hidden)}")
        for u in self.hidden:
            if not LIMITS["hidden_units"][0] <= u <= LIMITS["hidden_units"][1]:
                raise SceneError(f"each hidden layer needs 1 to {LIMITS['hidden_units'][1]} units, got {u}")
        if not (isinstance(self.keep_prob, (int, float)) and math.isfinite(self.keep_prob)
                and 0 < self.keep_prob <= 1):
            raise SceneError(f"keep_prob (the fraction of hidden units dropout keeps) must be in (0, 1], got {self.keep_prob}")
        for name in ("epochs", "batch_size", "seed"):
            v = getattr(self, name)
            lo, hi = LIMITS[name]
            if not (isinstance(v, int) and lo <= v <= hi):
                raise SceneError(f"{name.replace('_', ' ')} must be a whole number from {lo} to {hi}, got {v!r}")
        if not LIMITS["racers"][0] <= len(self.racers) <= LIMITS["racers"][1]:
            raise SceneError(f"choose 1 to {LIMITS['racers'][1]} optimizers")
        if self.dtype not in ("float32", "float64"):
            raise SceneError(f"precision must be float32 or float64, got {self.dtype!r}")
        for r in self.racers:
            try:
                r.make()
            except HyperparameterError as e:
                raise SceneError(str(e)) from None
        return self


def parse_hidden(text: str) -> tuple[int, ...]:
    """Return hidden sizes from text like ``100`` or ``64, 32``; raise SceneError naming the bad part."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise SceneError("give at least one hidden layer size, e.g. 100 or 64, 32")
    out = []
    for p in parts:
        if not p.isdigit() or len(p) > 4:
            raise SceneError(f"hidden layer sizes are whole numbers separated by commas; cannot read {p[:20]!r}")
        out.append(int(p))
    return tuple(out)


ARTICLE = Experiment(
    dataset="digits", dataset_params=(("positive", 3), ("negative", 8), ("seed", 0), ("test_fraction", 0.25)),
    hidden=(100,), keep_prob=1.0, batch_size=32, epochs=500, racers=ARTICLE_RACERS, seed=0, dtype="float32",
    title="The article's experiment: digits 3 vs 8, hidden [100], lr 0.01, batch 32, 500 epochs",
)
