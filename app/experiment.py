"""The Experiment: the MLP panel's Scene, one frozen value that decides a training comparison.

It is ``surfaces.network.experiment.Experiment`` with what the page adds:
racers with colours, an uploaded file (by its content hash) and a title. The
bounds, the article's protocol and the checks are the network module's; this
module only translates their errors into ``ExperimentError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from surfaces.network import experiment as network
from surfaces.network.datasets import Dataset, from_csv

from .racer import PALETTE, InputError, Racer

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
