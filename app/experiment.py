"""The Experiment: the MLP panel's Scene, one frozen value that decides a training comparison.

It is ``surfaces.network.experiment.Experiment`` with what the page adds:
racers with colours, an uploaded file (by its content hash) and a title. The
bounds, the article's protocol and the checks are the network module's; this
module only translates their errors into ``ExperimentError``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

from surfaces.network import experiment as network
from surfaces.network.datasets import Dataset, from_csv

from .racer import PALETTE, InputError, Racer, _kv, num_text

#: the data-set choice meaning "the file this session uploaded"
CSV = "csv"
LIMITS = network.LIMITS


class ExperimentError(InputError):
    """An MLP panel setting cannot be used; the message says what to change."""


ARTICLE_RACERS = tuple(Racer(r.optimizer, r.hp, color=PALETTE[i]) for i, r in enumerate(network.ARTICLE.racers))


@dataclass(frozen=True)
class Experiment(network.Experiment):
    """Everything that decides a training comparison on the MLP panel."""

    racers: tuple[Racer, ...] = ARTICLE_RACERS
    csv_sha: str = ""  # an uploaded file, by its content hash (the bytes travel beside the value)
    csv_label: str = ""
    title: str = field(default="", compare=False)

    def check(self) -> Experiment:
        """Return self when every field is valid, else raise ExperimentError saying what to change."""
        try:
            return super().check()
        except ValueError as e:
            raise ExperimentError(str(e)) from None

    def _check_dataset(self) -> None:
        """Raise when the data set is neither registered nor a chosen column of an uploaded file."""
        if self.dataset != CSV:
            super()._check_dataset()
        elif not self.csv_sha:
            raise ExperimentError("upload a CSV file first, or choose another data set")
        elif not self.csv_label:
            raise ExperimentError("choose the CSV column that holds the 0/1 labels")

    def load_data(self, csv_bytes: bytes | None = None) -> Dataset:
        """Return the data set: the registered one, or the uploaded file's (raises a ValueError subclass)."""
        if self.dataset == CSV:
            return from_csv(csv_bytes or b"", self.csv_label, seed=self.seed)
        return super().load_data()


def parse_hidden(text: str) -> tuple[int, ...]:
    """Return hidden sizes from text like ``100`` or ``64, 32``; raise ExperimentError naming the bad part."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ExperimentError("give at least one hidden layer size, e.g. 100 or 64, 32")
    out = []
    for p in parts:
        if not p.isdigit() or len(p) > 4:
            raise ExperimentError(f"hidden layer sizes are whole numbers separated by commas; cannot read {p[:20]!r}")
        out.append(int(p))
    return tuple(out)


def _article() -> Experiment:
    """Return the network module's ARTICLE with the page's colours and a title that states its protocol."""
    a = network.ARTICLE
    d = dict(a.dataset_params)
    lr = dict(a.racers[0].hp)["lr"]
    title = (f"The article's experiment: digits {d['positive']} vs {d['negative']}, hidden {list(a.hidden)}, "
             f"lr {lr:g}, batch {a.batch_size}, {a.epochs} epochs")
    same = {f.name: getattr(a, f.name) for f in fields(network.Experiment) if f.name != "racers"}
    return Experiment(**same, racers=ARTICLE_RACERS, title=title)


ARTICLE = _article()


# -- the URL: the whole Experiment, one query parameter per part ----------------------------

#: (query key, field, text -> value) for the fields a link writes as single values
_KEYS = (("ep", "epochs", int), ("b", "batch_size", int), ("seed", "seed", int), ("kp", "keep_prob", float),
         ("sh", "sharpness_every", int), ("dt", "dtype", str))


def _last(params: Mapping[str, Any], key: str):
    """Return the last value a link gives for ``key`` (a repeated key keeps its last), or None."""
    v = params.get(key)
    if isinstance(v, (list, tuple)):
        return v[-1] if v else None
    return v


def to_query(exp: Experiment) -> dict[str, str | list[str]]:
    """Return the experiment as URL query parameters (an uploaded file cannot travel: its data set is left out)."""
    q: dict[str, str | list[str]] = {"d": exp.dataset if exp.dataset != CSV else Experiment().dataset}
    if exp.dataset_params and exp.dataset != CSV:
        q["dp"] = ",".join(f"{k}={num_text(v) if isinstance(v, (int, float)) else v}" for k, v in exp.dataset_params)
    q["h"] = ",".join(map(str, exp.hidden))
    for key, name, _ in _KEYS:
        v = getattr(exp, name)
        q[key] = num_text(v) if isinstance(v, (int, float)) else str(v)
    q["r"] = [r.to_text() for r in exp.racers]
    return q


def from_query(params: Mapping[str, Any], base: Experiment | None = None) -> tuple[Experiment, list[str]]:
    """Return the experiment a link describes, and a note for every part that fell back to ``base``'s value.

    Each part is read and checked on its own (never eval: numbers through
    int()/float(), racers through their text codec), so one hostile value
    costs only itself; nothing here raises.
    """
    base = base or Experiment()
    notes: list[str] = []
    exp = base
    d = _last(params, "d")
    if d is not None:
        d = str(d)[:40]
        if d in network.DATASETS:
            exp = replace(exp, dataset=d, dataset_params=())
        else:
            notes.append(f"unknown data set {d!r} in the link; kept {base.dataset}")
    dp = _last(params, "dp")
    if dp is not None:
        try:
            given = _kv(str(dp)[:300])
            trial = replace(exp, dataset_params=given)
            network.Experiment.load_data(trial)  # the data set's loader is the one check of its values
            exp = trial
        except (ValueError, TypeError) as e:
            notes.append(f"the link's data-set settings cannot be used ({e}); kept the defaults")
    h = _last(params, "h")
    if h is not None:
        try:
            exp = _checked(replace(exp, hidden=parse_hidden(str(h)[:60])), "hidden")
        except ValueError as e:
            notes.append(f"the link's hidden layers cannot be used ({e}); kept {list(exp.hidden)}")
    for key, name, conv in _KEYS:
        raw = _last(params, key)
        if raw is None:
            continue
        try:
            text = str(raw)[:30]
            if conv is int and not re.fullmatch(r"-?\d{1,12}", text):
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number, got {text!r}")
            value = conv(text)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name.replace('_', ' ')} must be a finite number, got {text!r}")
            exp = _checked(replace(exp, **{name: value}), name)
        except ValueError as e:
            notes.append(f"the link's {name.replace('_', ' ')} cannot be used ({e}); kept {getattr(exp, name)}")
    raw = params.get("r")
    if raw is not None:
        racers = []
        texts = [raw] if isinstance(raw, str) else list(raw)
        if len(texts) > LIMITS["racers"][1]:
            notes.append(f"the link names {len(texts)} optimizers; kept the first {LIMITS['racers'][1]}")
        for i, text in enumerate(texts[: LIMITS["racers"][1]]):
            try:
                r = Racer.from_text(str(text)[:400])
                r.make()
                racers.append(r if r.color else replace(r, color=PALETTE[i % len(PALETTE)]))
            except ValueError as e:
                notes.append(f"optimizer {i + 1} of the link cannot be used ({e}); left out")
        if racers:
            exp = replace(exp, racers=tuple(racers))
        else:
            notes.append("the link names no usable optimizer; kept the default ones")
    try:
        exp.check()
    except ValueError as e:
        notes.append(f"the link's experiment cannot be trained ({e}); showing the default one")
        exp = base
    return exp, notes


def _checked(exp: Experiment, name: str) -> Experiment:
    """Return ``exp`` when ``check`` accepts it; raise its error (the field just changed is the only new one)."""
    exp.check()
    return exp


def normalized(exp: Experiment) -> Experiment:
    """Return ``exp`` with every default written out (racers' hyperparameters, the data set's settings).

    Two experiments that train the same way are then equal, however each was written (a preset names only
    what it changes; the controls hold every value).
    """
    spec = network.DATASETS.get(exp.dataset)
    params = exp.dataset_params
    if spec is not None:
        given = dict(exp.dataset_params)
        params = tuple((h.name, h.kind(given.get(h.name, h.default))) for h in spec.parameters)
    return replace(exp, dataset_params=params, racers=tuple(r.normalized() for r in exp.racers))


# -- presets: experiments that each teach one thing ---------------------------------------

PRESETS_FILE = Path(__file__).with_name("mlp_presets.toml")


@dataclass(frozen=True)
class Preset:
    """A named experiment with the one thing it teaches."""

    name: str
    title: str
    lesson: str
    experiment: Experiment


@cache
def presets() -> dict[str, Preset]:
    """Return the MLP presets of ``mlp_presets.toml`` by name, each read through the URL codec and checked."""
    with open(PRESETS_FILE, "rb") as f:
        raw = tomllib.load(f)
    out = {}
    for name, spec in raw.items():
        query = {k: v for k, v in spec.items() if k not in ("title", "lesson")}
        exp, notes = from_query(query)
        if notes:
            raise ValueError(f"preset {name!r} is broken: {'; '.join(notes)}")
        out[name] = Preset(name, spec["title"], spec["lesson"], replace(exp, title=spec["title"]))
    return out
