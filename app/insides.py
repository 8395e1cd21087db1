"""The optimizer's insides and the surface's curvature per step, and predicted losses, as the animator draws them.

No Streamlit here. ``racer_insides`` packs one recorded racer (``RacerRun.internals``
and ``RacerRun.curvature``) as one float32 table, base64-encoded: a number
costs 5.3 bytes of JSON instead of 8 to 12 as text, and float32 keeps more
digits than a screen shows. Row k describes frame k (the racer at ``path[k]``):
the negative gradient it feels there, the step it takes from there, the
optimizer's vectors that make that step (the state after it), the
curvatures at ``path[k]`` and the stability number of that step.

Vectors point the way they move the racer (the negative gradient, the
negative velocity, ...), in data units. The animator scales each kind by
``scales[kind]`` (the median length over the race), so one picture reads on
a steep ravine and on a plateau alike.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from surfaces.curvature import (
    CurvatureError,
    curvature_at,
    is_quadratic,
    predicted_loss,
    stability,
    stability_rule,
)

from .race import Race, RacerRun
from .racer import Racer

#: what the insides of one scene may add to the payload before rows are thinned out (bytes of JSON)
BUDGET_BYTES = 240_000
#: column pairs of the table, and what the animator calls them
VECTOR_LABELS = {
    "grad": "\u2212gradient",
    "step": "step taken",
    "v": "velocity (\u2212v)",
    "m_hat": "first moment (\u2212m\u0302)",
    "m": "momentum (\u2212m)",
    "ahead": "Nesterov look-ahead",
}
#: optimizers whose rule is a linear iteration on a quadratic, with the form predicted_loss calls it by
_LINEAR_KIND = {"sgd": ("sgd", "ema"), "momentum": ("momentum", "ema"), "heavy_ball": ("momentum", "heavy_ball")}


def f32(a) -> str:
    """Return the float32 little-endian bytes of ``a`` (row-major), base64-encoded."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _vectors(racer: Racer, run: RacerRun) -> dict[str, np.ndarray]:
    """Return the (n, 2) vectors of each frame, named by ``VECTOR_LABELS``, pointing the way they move the racer."""
    ins = run.internals
    n = len(ins.path)
    out: dict[str, np.ndarray] = {}

    def per_frame(rows: np.ndarray) -> np.ndarray:
        # rows[k] belongs to frame k; the last frame has taken no step yet
        a = np.full((n, 2), np.nan)
        a[:len(rows)] = rows
        return a

    out["grad"] = -per_frame(ins.grad)
    out["step"] = -per_frame(ins.step)
    for name, a in ins.states.items():
        if name == "s":
            continue  # a per-axis scale, drawn through the effective learning rate
        key = "m_hat" if name == "m" and "m_hat" in ins.derived else name
        out[key] = -per_frame((ins.derived.get("m_hat") if key == "m_hat" else a)[1:])
    vals = racer.values()
    if vals.get("nesterov") and "v" in ins.states:
        # where the velocity alone carries the racer in the step after this one: lr beta v
        out["ahead"] = -per_frame(ins.lr[:, None] * vals["beta"] * ins.states["v"][1:])
    return out


def racer_insides(racer: Racer, run: RacerRun, every: int = 1) -> dict:
    """Return one recorded racer's insides for the payload: its table (every ``every``-th frame) and its stability rule."""
    ins = run.internals
    n = len(ins.path)
    cols: list[str] = []
    parts: list[np.ndarray] = []
    vectors = _vectors(racer, run)
    for key, vec in vectors.items():
        cols += [f"{key}_x", f"{key}_y"]
        parts.append(vec)
    if "effective_lr" in ins.derived:
        cols += ["eff_x", "eff_y"]
        eff = np.full((n, 2), np.nan)
        eff[:-1] = ins.derived["effective_lr"][1:]
        parts.append(eff)
    cols += ["lam_lo", "lam_hi", "angle"]
    parts.append(run.curvature)
    vals = racer.values()
    rule = stability_rule(racer.optimizer, vals)
    out: dict = {}
    if rule is not None:
        lr = np.full(n, np.nan)
        lr[:-1] = ins.lr
        cols.append("stab")
        parts.append((rule.lr_factor * lr * run.curvature[:, 1])[:, None])
        out.update(stab_label=rule.label, stab_limit=rule.limit, stab_limit_label=rule.limit_label)
    else:
        out["stab_note"] = stability(racer.optimizer, vals, 1.0).sentence
    table = np.hstack(parts)[::every]
    diverged = ins.diverged_at
    out.update(cols=cols, rows=len(table), data=f32(table), vectors=list(vectors))
    if diverged is not None:
        out["diverged_at"] = diverged
    return out


def _robust_scale(values: list[np.ndarray]) -> float:
    """Return the median of the finite non-zero magnitudes, or 1 when there are none."""
    v = np.abs(np.concatenate([np.ravel(a) for a in values])) if values else np.ones(1)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.median(v)) if v.size else 1.0


def insides(race: Race) -> dict | None:
    """Return the payload's ``insides`` part (None when no racer was recorded) and put each racer's table in ``racers``.

    Rows are thinned (``every``) when the whole would pass ``BUDGET_BYTES``.
    """
    recorded = [(r, run) for r, run in zip(race.scene.racers, race.runs) if run.internals is not None]
    if not recorded:
        return None
    cells = sum(len(run.internals.path) * (len(_vectors(r, run)) * 2 + 6) for r, run in recorded)
    every = max(1, math.ceil(cells * 16 / 3 / BUDGET_BYTES))
    tables = [racer_insides(r, run, every) if run.internals is not None else None
              for r, run in zip(race.scene.racers, race.runs)]
    lengths: dict[str, list[np.ndarray]] = {}
    for r, run in recorded:
        for key, vec in _vectors(r, run).items():
            lengths.setdefault(key, []).append(np.hypot(vec[::every, 0], vec[::every, 1]))
        if "effective_lr" in run.internals.derived:
            lengths.setdefault("eff", []).append(run.internals.derived["effective_lr"][1::every])
        lengths.setdefault("curv", []).append(run.curvature[::every, :2])
    return {
        "every": every,
        "labels": VECTOR_LABELS,
        "scales": {k: _robust_scale(v) for k, v in lengths.items()},
        "tables": tables,
    }


def predicted_losses(race: Race, surf) -> list[list[float] | None]:
    """Return, per racer, the loss its rule predicts at each step on a quadratic surface, or None where none does.

    Only gradient descent and both momentum forms are linear iterations; a
    schedule, gradient noise or mini-batches make the run something else, so
    those racers get None too. The prediction is for the racer's first start.
    """
    scene = race.scene
    if scene.noise or scene.batch_size or not is_quadratic(surf):
        return [None] * len(race.runs)
    out: list[list[float] | None] = []
    for racer in scene.racers:
        linear = _LINEAR_KIND.get(racer.optimizer)
        if linear is None or racer.schedule != "constant":
            out.append(None)
            continue
        vals = racer.values()
        try:
            loss = predicted_loss(surf, linear[0], vals["lr"], vals.get("beta", 0.0), race.starts[0], scene.steps,
                                  linear[1], bool(vals.get("nesterov", False)))
        except CurvatureError:  # a trough or a saddle: no minimum to converge to
            out.append(None)
            continue
        out.append([float(f"{v:.5g}") if math.isfinite(v) else None for v in loss.tolist()])
    return out


def probe(scene, surf, xy) -> dict:
    """Return the payload's ``probe``: the exact curvature of ``surf`` at ``xy`` and each racer's stability there.

    ``eigenvalues`` ascend; ``angle`` is the direction of the first one's
    eigenvector (radians, in data coordinates); ``condition`` is None where
    one curvature is zero or the Hessian is undefined. ``stability`` holds
    one sentence per racer of ``scene``, for its base learning rate.
    """
    x, y = float(xy[0]), float(xy[1])
    c = curvature_at(surf, np.array([x, y]))
    lo, hi = (float(v) for v in c.eigenvalues)
    angle = float(np.arctan2(c.eigenvectors[1, 0], c.eigenvectors[0, 0]))
    cond = float(c.condition)
    lam_max = max(lo, hi) if math.isfinite(lo) and math.isfinite(hi) else math.nan
    return {
        "x": x,
        "y": y,
        "eigenvalues": [lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None],
        "angle": angle if math.isfinite(angle) else None,
        "condition": cond if math.isfinite(cond) else None,
        "note": str(c.note),
        "stability": [f"{racer.label()}: {stability(racer.optimizer, racer.values(), lam_max).sentence}"
                      for racer in scene.racers],
    }


def linear_kind(optimizer: str) -> tuple[str, str] | None:
    """Return (kind, form) of an optimizer whose rule is a linear iteration on a quadratic, else None."""
    return _LINEAR_KIND.get(optimizer)


__all__ = ["BUDGET_BYTES", "VECTOR_LABELS", "f32", "insides", "linear_kind", "predicted_losses", "probe", "racer_insides"]
