"""From a Scene to a race and to what the browser needs; no Streamlit here, so the CLI shares it.

Every update rule comes from ``optim`` and every gradient and path from
``surfaces``: this module only arranges their results.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

import surfaces
from optim import HyperparameterError

from .scene import Scene, SceneError


@functools.lru_cache(maxsize=64)
def load_surface(name: str, formula: str = ""):
    """Return the Surface a scene names (a catalogue entry or a checked user formula)."""
    try:
        if name == "custom":
            return surfaces.from_formula(formula)
        return surfaces.get(name)
    except surfaces.FormulaError as e:
        raise SceneError(f"formula: {e}") from None
    except (surfaces.SurfaceError, KeyError) as e:
        raise SceneError(str(e)) from None


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


@dataclass(frozen=True)
class Race:
    """Every racer's run on one scene."""

    scene: Scene
    starts: np.ndarray
    runs: tuple[RacerRun, ...]


def run_race(scene: Scene) -> Race:
    """Return the race a scene describes, computed with ``surfaces.trace`` and ``optim.make``."""
    scene.check()
    surf = load_surface(scene.surface, scene.formula)
    starts = starts_of(scene, surf)
    runs = []
    for racer in scene.racers:
        paths, losses, divs, lr = [], [], [], None
        for k in range(scene.n_seeds):
            try:
                opt = racer.make()
                tr = surfaces.trace(
                    surf, opt, starts if len(starts) > 1 else starts[0], scene.steps,
                    noise=scene.noise, seed=scene.seed + k, batch_size=scene.batch_size or None,
                )
            except (HyperparameterError, surfaces.SurfaceError) as e:
                raise SceneError(str(e)) from None
            path = np.asarray(tr.path, dtype=float)
            loss = np.asarray(tr.loss, dtype=float)
            if path.ndim == 2:
                path, loss, div = path[:, None, :], loss[:, None], [tr.diverged_at]
            else:
                div = list(tr.diverged_at)
            paths.append(path)
            losses.append(loss)
            divs.append(div)
            lr = np.asarray(tr.lr, dtype=float)
        runs.append(RacerRun(racer.label(), racer.color, np.stack(paths), np.stack(losses), divs, lr))
    return Race(scene, starts, tuple(runs))


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


# -- what goes to the browser ----------------------------------------------------

def _decimals(span: float) -> int:
    """Return how many decimals keep a coordinate to 1/5000 of the window: finer than a screen shows."""
    return max(0, int(math.ceil(-math.log10(span / 5000.0))))


def _sig(v: float, digits: int = 4) -> float:
    return float(f"{v:.{digits}g}")


def payload(race: Race, image: str, *, presenter: bool = False, autoplay: bool = True) -> dict:
    """Return the compact JSON-able description of a race that the animator draws."""
    scene = race.scene
    surf = load_surface(scene.surface, scene.formula)
    (x0, x1), (y0, y1) = window_of(scene, surf)
    dx, dy = _decimals(x1 - x0), _decimals(y1 - y0)
    racers = []
    for run in race.runs:
        paths, losses, divs = [], [], []
        for s in range(run.path.shape[0]):
            for k in range(run.path.shape[2]):
                p, lo = run.path[s, :, k], run.loss[s, :, k]
                div = run.diverged_at[s][k]
                keep = div if div is not None else len(p)
                flat = np.empty(2 * keep)
                flat[0::2] = np.round(p[:keep, 0], dx)
                flat[1::2] = np.round(p[:keep, 1], dy)
                paths.append(flat.tolist())
                losses.append([_sig(v) for v in lo[:keep].tolist()])
                divs.append(div)
        racers.append({"label": run.label, "color": run.color, "paths": paths, "loss": losses, "diverged_at": divs})
    flat_loss = np.concatenate([np.asarray(v) for r in racers for v in r["loss"] if len(v)] or [np.ones(1)])
    scene_id = hashlib.sha1(repr(scene.to_query()).encode()).hexdigest()[:16]
    return {
        "scene_id": scene_id,
        "title": surf.title,
        "image": image,
        "extent": [x0, x1, y0, y1],
        "steps": scene.steps,
        "racers": racers,
        "minima": [[float(a), float(b)] for a, b in surf.minima],
        "loss_log": bool(np.all(flat_loss > 0) and flat_loss.max() / max(flat_loss.min(), 1e-300) > 100),
        "presenter": presenter,
        "autoplay": autoplay,
    }
