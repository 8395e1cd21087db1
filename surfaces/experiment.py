"""The article's experiment: four optimizers train the same MLP from the same weights; a table compares them.

The article's protocol (lr 0.01, 500 epochs, batches of 32, one hidden layer
of 100 units, keep_prob 1, one seed for every optimizer) is run on
scikit-learn's 8x8 digits, 3 against 8, because the article's cat pictures
are not available. Run ``python -m surfaces.experiment --help``.

Every optimizer reaches 100 % training accuracy on this task long before
epoch 500, so the table also shows what does tell them apart: accuracy after
epochs 1 and 5, the first epoch reaching 99 %, held-out test accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import optim

from .datasets import digits as load_digits
from .mlp import MLP, History, first_epoch_reaching, train

ARTICLE_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
#: the article's training accuracy after 500 epochs on its cat / not-cat pictures (dropout defect active)
ARTICLE_TRAIN_ACC = {"sgd": 0.849, "momentum": 0.873, "rmsprop": 0.961, "adam": 0.985}


def run_article_experiment(epochs: int = 500, lr: float = 0.01, batch_size: int = 32,
                           hidden: Sequence[int] = (100,), digits: Sequence[int] = (3, 8), seed: int = 0,
                           dtype: str = "float32", optimizers: Sequence[str] = ARTICLE_OPTIMIZERS,
                           keep_prob: float = 1.0, test_fraction: float = 0.25,
                           callback: Callable[[str, int, dict], None] | None = None,
                           should_stop: Callable[[], bool] | None = None) -> dict[str, History]:
    """Return each optimizer's History, trained from the same initial weights on the same batches.

    ``digits`` is ``(positive, negative)``; ``callback(optimizer, epoch,
    record)`` runs after every epoch of every optimizer; once ``should_stop()``
    returns True the current run ends and the remaining optimizers are skipped.
    Other hyperparameters keep the article's defaults.
    """
    if len(digits) != 2:
        raise ValueError(f"give two digits, the positive and the negative class, got {list(digits)}")
    data = load_digits(positive=(digits[0],), negative=(digits[1],), seed=seed, test_fraction=test_fraction)
    opts = {name: optim.make(name, lr=lr) for name in optimizers}  # validates every name and lr up front
    start = MLP(data.n_features, hidden, keep_prob=keep_prob, seed=seed, dtype=dtype)
    histories: dict[str, History] = {}
    for name, opt in opts.items():
        model = MLP(data.n_features, hidden, keep_prob=keep_prob, seed=seed, dtype=dtype)
        model.copy_params_from(start)
        per_epoch = None if callback is None else (lambda e, r, _n=name: callback(_n, e, r))
        hist = train(model, opt, data.X_train, data.y_train, epochs, batch_size, seed=seed,
                     X_test=data.X_test, y_test=data.y_test, callback=per_epoch, should_stop=should_stop)
        hist.meta["dataset"] = data.name
        histories[name] = hist
        if hist.stopped:
            break
    return histories


def _acc_at(h: History, epoch: int) -> float | None:
    return h.train_acc[epoch - 1] if len(h.train_acc) >= epoch else None


def summarize(histories: dict[str, History], threshold: float = 0.99) -> list[dict[str, Any]]:
    """Return one row per optimizer: final/early accuracies, epoch reaching ``threshold``, loss, time."""
    rows = []
    for name, h in histories.items():
        rows.append({
            "optimizer": name,
            "train_acc": h.train_acc[-1] if h.train_acc else None,
            "test_acc": h.test_acc[-1] if h.test_acc else None,
            "acc_epoch_1": _acc_at(h, 1),
            "acc_epoch_5": _acc_at(h, 5),
            "first_epoch_reaching": first_epoch_reaching(h, threshold),
            "train_loss": h.train_loss[-1] if h.train_loss else None,
            "wall_time": h.wall_time,
            "epochs_run": h.epochs_run,
            "diverged_at": h.diverged_at,
            "article_train_acc": ARTICLE_TRAIN_ACC.get(name),
        })
    return rows


def format_table(histories: dict[str, History], threshold: float = 0.99) -> str:
    """Return the article-style comparison as a fixed-width text table."""
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    head = (f"{'optimizer':<10} {'train acc':>9} {'test acc':>8} {'acc@1':>6} {'acc@5':>6} "
            f"{'ep>=' + format(threshold, '.0%'):>7} {'train loss':>10} {'time s':>7} {'article':>7}")
    lines = [head, "-" * len(head)]
    for r in summarize(histories, threshold):
        lines.append(
            f"{r['optimizer']:<10} {f(r['train_acc'], '.3f'):>9} {f(r['test_acc'], '.3f'):>8} "
            f"{f(r['acc_epoch_1'], '.3f'):>6} {f(r['acc_epoch_5'], '.3f'):>6} "
            f"{f(r['first_epoch_reaching'], 'd'):>7} {f(r['train_loss'], '.2e'):>10} "
            f"{r['wall_time']:>7.2f} {f(r['article_train_acc'], '.3f'):>7}"
            + (f"  diverged at epoch {r['diverged_at']}" if r["diverged_at"] else "")
        )
    lines.append("article = its training accuracy after 500 epochs on cat / not-cat pictures "
                 "(with its dropout defect); acc@k = training accuracy after epoch k")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment from the command line, print the table; return the exit status."""
    ap = argparse.ArgumentParser(
        prog="python -m surfaces.experiment",
        description="The article's optimizer comparison on 8x8 digits: same MLP, same initial weights, "
                    "one table.",
    )
    ap.add_argument("--epochs", type=int, default=500, help="passes over the training set (default 500)")
    ap.add_argument("--lr", type=float, default=0.01, help="learning rate of every optimizer (default 0.01)")
    ap.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[100], help="hidden layer sizes (default 100)")
    ap.add_argument("--digits", type=int, nargs=2, default=[3, 8], metavar=("POSITIVE", "NEGATIVE"),
                    help="the two digits to tell apart (default 3 8)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the weights, the split and the batches")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="precision")
    ap.add_argument("--keep-prob", type=float, default=1.0, help="dropout keep probability (default 1: none)")
    ap.add_argument("--optimizers", nargs="+", default=list(ARTICLE_OPTIMIZERS), choices=list(optim.OPTIMIZERS),
                    help="optimizers to compare (default: the article's four)")
    ap.add_argument("--threshold", type=float, default=0.99, help="training accuracy to time (default 0.99)")
    ap.add_argument("--json", metavar="PATH", help="also write every History as JSON to PATH")
    args = ap.parse_args(argv)
    try:
        histories = run_article_experiment(
            epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, hidden=args.hidden,
            digits=args.digits, seed=args.seed, dtype=args.dtype, optimizers=args.optimizers,
            keep_prob=args.keep_prob,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"digits {args.digits[0]} vs {args.digits[1]}, hidden {args.hidden}, lr {args.lr:g}, "
          f"batch {args.batch_size}, {args.epochs} epochs, {args.dtype}, seed {args.seed}")
    print(format_table(histories, args.threshold))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({k: h.to_dict() for k, h in histories.items()}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
