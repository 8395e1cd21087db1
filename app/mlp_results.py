"""What a finished training shows and exports: the results table, the cost curves, the decision boundaries, CSV.

Each takes the ``Training`` that ``surfaces.network.experiment.run`` returns
(no Streamlit here; figures use matplotlib's ``Figure`` API).
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from surfaces.network.experiment import Training, summarize
from surfaces.network.mlp import RECORD_KEYS

from .mlp_views import POINT_COLORS

#: the training accuracy whose first epoch the results table reports (the article-style "how fast" column)
FAST = 0.99
FAST_COLUMN = f"epochs to {FAST:.0%} acc."
FIRST_COLUMN = "acc. after epoch 1"


def results_table(training: Training) -> pd.DataFrame:
    """Return one row per run: how well (accuracies, loss), how fast (epoch 1, first epoch >= 99 %), how long.

    The numbers are the article experiment's summary (``summarize``), one run at a time since two runs may
    share a label.
    """
    rows = []
    for run in training.runs:
        (r,) = summarize({run.label: run.history}, FAST)
        first = r["first_epoch_reaching"]
        rows.append({
            "optimizer": run.label,
            "train accuracy": r["train_acc"],
            "test accuracy": r["test_acc"],
            # When every run ends at 100 %, these two still order the optimizers (as the article's figure does).
            FIRST_COLUMN: r["acc_epoch_1"],
            FAST_COLUMN: str(first) if first is not None else "not reached",
            "final train loss": r["train_loss"],
            "epochs run": r["epochs_run"],
            "wall time (s)": round(r["wall_time"], 2),
            "diverged?": f"at epoch {r['diverged_at']}" if r["diverged_at"] is not None else "no",
        })
    return pd.DataFrame(rows)


def _cell(v) -> str:
    """Return a CSV cell: the number as Python writes it, or empty for a missing or non-finite one."""
    return "" if v is None or not math.isfinite(v) else repr(v)


def curves_csv(training: Training) -> str:
    """Return the per-epoch curves as CSV, one row per optimizer and epoch (empty cells where nothing was measured)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["optimizer", *RECORD_KEYS])
    for run in training.runs:
        for rec in run.history.records():
            w.writerow([run.label, rec["epoch"], *[_cell(rec[k]) for k in RECORD_KEYS[1:]]])
    return buf.getvalue()


def boundaries_figure(training: Training, fontsize: int = 10) -> Figure:
    """Return the decision boundaries of every trained racer side by side, with the training data."""
    runs = [r for r in training.runs if r.proba is not None]
    n = max(1, len(runs))
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(3.4 * cols, 3.3 * rows), dpi=100, layout="constrained")
    xs, ys, X, y = training.xs, training.ys, training.X, training.y
    yy = np.asarray(y).ravel() > 0.5
    for k, run in enumerate(runs):
        ax = fig.add_subplot(rows, cols, k + 1)
        P = np.asarray(run.proba, dtype=float)
        # Light regions, dark points of the same hues in a white ring: every point stays visible on its region.
        ax.contourf(xs, ys, P, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
        ax.contour(xs, ys, P, levels=[0.5], colors="black", linewidths=1.5)
        for cls, mask in ((0, ~yy), (1, yy)):
            ax.scatter(X[mask, 0], X[mask, 1], color=POINT_COLORS[cls] / 255, edgecolors="white", linewidths=0.6,
                       s=14)
        acc = run.history.train_acc[-1] if run.history.train_acc else None
        ax.set_title(f"{run.label}" + (f"\ntrain acc {acc:.3f}" if acc is not None else ""), fontsize=fontsize,
                     color=run.color or "black")
        ax.set_xticks([])
        ax.set_yticks([])
    # short enough for one column of 340 px: the page's caption says the rest
    fig.suptitle("Decision boundaries (black: p = 0.5)", fontsize=fontsize + 1)
    return fig


def cost_figure(training: Training, key: str = "batch_loss_mean", log: bool = True) -> Figure:
    """Return the article's figure: the cost of every optimizer against the epoch, on one chart."""
    fig = Figure(figsize=(8, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for run in training.runs:
        h = run.history
        v = getattr(h, key)
        ax.plot(h.epoch[: len(v)], v, color=run.color or None, label=run.label, lw=1.6)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return fig
