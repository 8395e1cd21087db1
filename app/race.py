"""From a checked Scene to a Race: where the starts lie, every racer's paths, and who reached a minimum.

No Streamlit here, so the CLI shares it. Every update rule comes from
``optim`` and every gradient and path from ``surfaces``: this module only
arranges their results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

import surfaces
from surfaces.curvature import curvature_at
from surfaces.internals import Internals

from .racer import color_of
from .scene import Scene, load_surface


def window_of(scene: Scene, surf) -> tuple[tuple[float, float], tuple[float, float]]:
    """Return the scene's viewing window, or the surface's own."""
    return scene.window if scene.window is not None else tuple(map(tuple, surf.window))


def main_start(scene: Scene, surf) -> tuple[float, float]:
    """Return the scene's start, or the surface's default moved inside the scene's window if it lies outside.

    A link may set a view window but no start; the surface's default start is
    chosen for the surface's own window and could then be off the map.
    """
    if scene.start is not None:
        return scene.start
    x, y = map(float, surf.start)
    if scene.window is None:
        return (x, y)
    (x0, x1), (y0, y1) = scene.window
    if x0 <= x <= x1 and y0 <= y <= y1:
        return (x, y)
    inset_x, inset_y = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
    return (float(f"{min(max(x, x0 + inset_x), x1 - inset_x):.6g}"),
            float(f"{min(max(y, y0 + inset_y), y1 - inset_y):.6g}"))


def starts_of(scene: Scene, surf) -> np.ndarray:
    """Return every start point of the scene, shape (k, 2): the main one, the listed ones, the random ones."""
    main = main_start(scene, surf)
    pts = [main, *scene.more_starts]
    if scene.random_starts:
        (x0, x1), (y0, y1) = window_of(scene, surf)
        rng = np.random.default_rng(scene.seed + 7919)
        pts += list(zip(rng.uniform(x0, x1, scene.random_starts), rng.uniform(y0, y1, scene.random_starts)))
    return np.asarray(pts, dtype=float)


@dataclass(frozen=True)
class RacerRun:
    """One racer's paths: arrays over (seed, step, start)."""

    label: str
    color: str
    path: np.ndarray  # (n_seeds, steps + 1, n_starts, 2), NaN after divergence
    loss: np.ndarray  # (n_seeds, steps + 1, n_starts)
    diverged_at: list  # per seed, per start: int or None
    lr: np.ndarray  # (steps,) effective learning rate
    #: the optimizer's state per step, for a racer with one start and one seed in a scene with insides on
    internals: Internals | None = None
    #: with ``internals``: per point of the path (steps+1, 3), the Hessian's eigenvalues (ascending) and the
    #: angle (radians, from the x axis) of the first one's direction; NaN where the path has ended
    curvature: np.ndarray | None = None


@dataclass(frozen=True)
class Race:
    """Every racer's run on one scene."""

    scene: Scene
    starts: np.ndarray
    runs: tuple[RacerRun, ...]


def run_race(scene: Scene) -> Race:
    """Return the race of a scene that ``Scene.check`` accepted, computed with ``surfaces.trace`` and ``optim``.

    Nothing is validated again here: a checked scene's optimizers build and
    its trace requests are in range. Each racer carries a colour (its own, or
    the palette's for its place), the only colour the browser draws.
    """
    surf = load_surface(scene.surface, scene.formula)
    starts = starts_of(scene, surf)
    # insides are drawn at a racer's one head, so only a single start and a single seed record them
    record = scene.insides and len(starts) == 1 and scene.n_seeds == 1
    runs = []
    for i, racer in enumerate(scene.racers):
        traces = [surfaces.trace(surf, racer.make(), starts if len(starts) > 1 else starts[0], scene.steps,
                                 noise=scene.noise, seed=scene.seed + k, batch_size=scene.batch_size or None,
                                 record=record)
                  for k in range(scene.n_seeds)]
        run = _racer_run(racer.label(), color_of(racer, i), traces)
        if record:
            run = replace(run, internals=traces[0].internals, curvature=path_curvature(surf, traces[0].path))
        runs.append(run)
    return Race(scene, starts, tuple(runs))


def path_curvature(surf, path: np.ndarray) -> np.ndarray:
    """Return (n, 3) per point of ``path`` (n, 2): the Hessian's two eigenvalues and the first one's direction angle."""
    c = curvature_at(surf, path)
    angle = np.arctan2(c.eigenvectors[..., 1, 0], c.eigenvectors[..., 0, 0])
    return np.column_stack([c.eigenvalues, angle])


def _racer_run(label: str, color: str, traces: list[surfaces.Trace]) -> RacerRun:
    """Return one racer's traces (one per noise seed) stacked as (seed, step, start) arrays."""
    paths, losses, divs = [], [], []
    for tr in traces:
        path = np.asarray(tr.path, dtype=float)
        loss = np.asarray(tr.loss, dtype=float)
        if path.ndim == 2:  # a single start: give it its start axis
            path, loss, div = path[:, None, :], loss[:, None], [tr.diverged_at]
        else:
            div = list(tr.diverged_at)
        paths.append(path)
        losses.append(loss)
        divs.append(div)
    return RacerRun(label, color, np.stack(paths), np.stack(losses), divs, np.asarray(traces[-1].lr, dtype=float))


def nearest_minimum(surf, pts: np.ndarray) -> np.ndarray:
    """Return the distance to the nearest known minimum for points (..., 2); inf where none or not finite."""
    minima = np.asarray(surf.minima, dtype=float).reshape(-1, 2)
    if len(minima) == 0:
        return np.full(pts.shape[:-1], np.inf)
    d = np.linalg.norm(pts[..., None, :] - minima, axis=-1)
    return np.min(np.where(np.isnan(d), np.inf, d), axis=-1)


def tolerance(scene: Scene, surf) -> float:
    """Return the distance that counts as "reached a minimum": 1 % of the window's diagonal."""
    (x0, x1), (y0, y1) = window_of(scene, surf)
    return 0.01 * math.hypot(x1 - x0, y1 - y0)


def results(race: Race) -> list[dict]:
    """Return one row per racer (first seed, first start): final loss, step reaching a minimum, distance, divergence."""
    scene = race.scene
    surf = load_surface(scene.surface, scene.formula)
    tol = tolerance(scene, surf)
    rows = []
    for run in race.runs:
        path, loss, div = run.path[0, :, 0], run.loss[0, :, 0], run.diverged_at[0][0]
        dist = nearest_minimum(surf, path)
        hit = np.flatnonzero(dist <= tol)
        last = div - 1 if div is not None else len(path) - 1
        final_loss = float(loss[last]) if last >= 0 else float("nan")
        rows.append({
            "optimizer": run.label,
            "final loss": final_loss,
            "reached a minimum at step": str(int(hit[0])) if hit.size else "never",
            "distance to nearest minimum": float(dist[last]) if last >= 0 and math.isfinite(dist[last]) else None,
            "diverged": f"diverged at step {div}" if div is not None else "no",
        })
    return rows
