"""Loss surfaces for Descent: analytic surfaces from sympy, a safe formula parser, data-defined surfaces, traces.

``CATALOGUE`` maps a name to its entry (formula, window, minima, start,
lesson); ``get(name)`` returns the built ``Surface``; ``load(name, formula)``
returns either that or, for ``CUSTOM``, the formula's; ``from_formula(text)``
reads a student's formula safely; ``trace(surface, optimizer, start, steps)``
runs an ``optim`` optimizer on a surface. The MLP and its datasets live in the
subpackage ``surfaces.network`` (imported on its own).
"""

from .catalogue import CATALOGUE, CUSTOM, ENTRIES, Entry, get, load
from .data import DATA_ENTRIES, DataEntry, DataSurface
from .formula import FUNCTIONS, FormulaError, SurfaceError, parse_formula
from .surface import DEFAULT_WINDOW, Surface, from_formula
from .trace import (
    DIVERGENCE_LIMIT,
    MAX_POINTS,
    MAX_STARTS,
    MAX_STEPS,
    Trace,
    TraceError,
    check_batch_size,
    trace,
)

__all__ = [
    "CATALOGUE", "CUSTOM", "ENTRIES", "Entry", "get", "load",
    "DATA_ENTRIES", "DataEntry", "DataSurface",
    "FUNCTIONS", "FormulaError", "SurfaceError", "parse_formula",
    "DEFAULT_WINDOW", "Surface", "from_formula",
    "DIVERGENCE_LIMIT", "MAX_POINTS", "MAX_STARTS", "MAX_STEPS", "Trace", "TraceError", "check_batch_size", "trace",
]
