"""The catalogue of named surfaces, held as data: formula, window, minima, start and lesson.

Each formula goes through the same safe parser as a student's formula.
Minima and their values are the published ones (Jamil & Yang, "A literature
survey of benchmark functions for global optimization problems", 2013, and
Surjanovic & Bingham's Virtual Library of Simulation Experiments), given to
the precision a root finder reaches so that the gradient there is zero.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .data import DATA_ENTRIES, DataEntry
from .formula import SurfaceError, formula_latex, parse_formula
from .surface import Surface, from_formula

#: the name under which a scene carries a student's formula instead of a catalogue entry
CUSTOM = "custom"


@dataclass(frozen=True)
class Entry:
    """One analytic surface in the catalogue; ``build()`` returns its Surface."""

    name: str
    title: str
    formula: str
    window: tuple
    minima: tuple
    min_value: float | None
    start: tuple[float, float]
    lesson: str
    log_contours: bool = False
    stochastic: bool = False
    n_examples: None = None

    def build(self, recipe: tuple | None = None) -> Surface:
        """Return this entry's Surface."""
        return Surface(
            parse_formula(self.formula), latex=formula_latex(self.formula),
            name=self.name, title=self.title, lesson=self.lesson, window=self.window,
            minima=self.minima, min_value=self.min_value, start=self.start,
            log_contours=self.log_contours, recipe=recipe,
        )


ENTRIES = (
    Entry(
        "bowl", "Round bowl", "x^2 + y^2",
        ((-3, 3), (-3, 3)), ((0, 0),), 0.0, (-2.5, 2.0),
        "The easiest case: the gradient points straight at the minimum, so every method walks a straight line.",
    ),
    Entry(
        "ravine", "Narrow ravine", "0.05x^2 + 5y^2",
        ((-10, 10), (-3, 3)), ((0, 0),), 0.0, (-9.0, 1.5),
        "Curvature 100 times steeper across the valley than along it: SGD must keep its learning rate "
        "under 0.2 or bounce out, so it zig-zags across and crawls along; momentum averages the zig-zag "
        "away, tolerates rates five times larger and runs along the floor.",
    ),
    Entry(
        "rosenbrock", "Rosenbrock's banana", "(1 - x)^2 + 100(y - x^2)^2",
        ((-2, 2), (-1, 3)), ((1, 1),), 0.0, (-1.2, 1.0),
        "Reaching the curved valley is fast; following its nearly flat floor to (1, 1) is slow.",
        log_contours=True,
    ),
    Entry(
        "himmelblau", "Himmelblau", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        ((-5, 5), (-5, 5)),
        ((3.0, 2.0), (-2.8051180869527448531, 3.1313125182505729658),
         (-3.7793102533777468919, -3.2831859912861694123), (3.5844283403304917449, -1.8481265269644035535)),
        0.0, (-0.3, -0.9),
        "Four equally good minima around a hill: which one a run finds depends on the start and the optimizer.",
        log_contours=True,
    ),
    Entry(
        "beale", "Beale", "(1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2",
        ((-4.5, 4.5), (-4.5, 4.5)), ((3, 0.5),), 0.0, (1.0, 1.5),
        "Gradients range over five orders of magnitude; adaptive step sizes cope, a fixed one overshoots or stalls.",
        log_contours=True,
    ),
    Entry(
        "booth", "Booth", "(x + 2y - 7)^2 + (2x + y - 5)^2",
        ((-10, 10), (-10, 10)), ((1, 3),), 0.0, (-8.0, 8.0),
        "A tilted quadratic bowl: every method arrives; compare how straight each path is.",
    ),
    Entry(
        "matyas", "Matyas", "0.26(x^2 + y^2) - 0.48 x y",
        ((-10, 10), (-10, 10)), ((0, 0),), 0.0, (8.0, -6.0),
        "A valley along the diagonal: per-coordinate step sizes (RMSProp, Adam) cannot line up with it.",
    ),
    Entry(
        "saddle", "Saddle", "x^2 - y^2",
        ((-2, 2), (-2, 2)), (), None, (-1.8, 0.01),
        "No minimum: starting near the ridge, plain gradient descent lingers at the saddle point "
        "before sliding off; methods that rescale small gradients leave sooner.",
    ),
    Entry(
        "plateau", "Plateau", "1 - exp(-(x^2 + y^2))",
        ((-4, 4), (-4, 4)), ((0, 0),), 0.0, (2.5, 2.0),
        "Far from the minimum the gradient nearly vanishes: SGD barely moves, Adam rescales the tiny "
        "gradient and walks in at full speed.",
    ),
    Entry(
        "double_well", "Tilted double well", "(x^2 - 1)^2 + 0.3x + y^2",
        ((-2, 2), (-1.5, 1.5)), ((-1.035578714088853741415836, 0.0),), -0.30542848374391597437, (1.8, 1.2),
        "A shallow and a deep valley: plain descent stops in the nearer one, momentum can roll over the hump.",
    ),
    Entry(
        "six_hump_camel", "Six-hump camel", "(4 - 2.1x^2 + x^4/3)x^2 + x y + (4y^2 - 4)y^2",
        ((-3, 3), (-2, 2)),
        ((0.089842013100318062422, -0.71265640302073963340), (-0.089842013100318062422, 0.71265640302073963340)),
        -1.0316284534898773504, (-2.2, -1.5),
        "Six valleys, two of them global: local minima catch runs that start in the wrong basin.",
        log_contours=True,
    ),
    Entry(
        "goldstein_price", "Goldstein-Price",
        "(1 + (x + y + 1)^2 (19 - 14x + 3x^2 - 14y + 6x y + 3y^2))"
        " (30 + (2x - 3y)^2 (18 - 32x + 12x^2 + 48y - 36x y + 27y^2))",
        ((-2, 2), (-2, 2)), ((0, -1),), 3.0, (1.5, 1.5),
        "Values from 3 to a million and several local minima: the scale of the gradient changes wildly.",
        log_contours=True,
    ),
    Entry(
        "rastrigin", "Rastrigin", "20 + x^2 - 10cos(2pi x) + y^2 - 10cos(2pi y)",
        ((-5.12, 5.12), (-5.12, 5.12)), ((0, 0),), 0.0, (3.2, 2.3),
        "A bowl covered in a regular grid of local minima: gradient methods stop in the nearest dimple.",
    ),
    Entry(
        "ackley", "Ackley",
        "-20exp(-0.2sqrt(0.5(x^2 + y^2))) - exp(0.5(cos(2pi x) + cos(2pi y))) + e + 20",
        ((-5, 5), (-5, 5)), ((0, 0),), 0.0, (3.3, 2.6),
        "A nearly flat outer region full of ripples around one deep funnel; the minimum itself is a "
        "sharp point where the gradient is undefined.",
    ),
)

#: name -> entry, analytic surfaces first, then the data-defined (stochastic) ones
CATALOGUE: dict[str, Entry | DataEntry] = {e.name: e for e in ENTRIES + DATA_ENTRIES}


@functools.cache
def get(name: str) -> Surface:
    """Return the named catalogue Surface (built once, then cached)."""
    try:
        entry = CATALOGUE[name]
    except (KeyError, TypeError):
        raise SurfaceError(f"unknown surface {name!r}; choose one of {', '.join(CATALOGUE)}") from None
    return entry.build(recipe=(get, (name,)))


@functools.lru_cache(maxsize=64)
def load(name: str, formula: str = "") -> Surface:
    """Return the Surface a name gives: the catalogue entry, or for ``"custom"`` the formula read safely.

    Raises FormulaError for a formula that cannot be read and SurfaceError for
    an unknown name, each with a message for the student.
    """
    if name == CUSTOM:
        return from_formula(formula)
    return get(name)


__all__ = ["Entry", "ENTRIES", "CATALOGUE", "CUSTOM", "get", "load"]
