"""Loss surfaces for Descent: analytic surfaces from sympy, a safe formula parser, data-defined surfaces, traces.

``CATALOGUE`` maps a name to its entry (formula, window, minima, start,
lesson); ``get(name)`` returns the built ``Surface``; ``from_formula(text)``
reads a student's formula safely; ``trace(surface, optimizer, start, steps)``
runs an ``optim`` optimizer on a surface. The MLP and its datasets live in the
subpackage ``surfaces.network`` (imported on its own).
"""

from .catalogue import CATALOGUE, ENTRIES, Entry, get
from .data import DATA_ENTRIES, DataEntry, DataSurface
from .formula import FUNCTIONS, FormulaError, SurfaceError, parse_formula
from .surface import DEFAULT_WINDOW, Surface, from_formula
from .trace import DIVERGENCE_LIMIT, MAX_POINTS, MAX_STARTS, MAX_STEPS, Trace, TraceError, trace

__all__ = [
    "CATALOGUE", "ENTRIES", "Entry", "get",
    "DATA_ENTRIES", "DataEntry", "DataSurface",
    "FUNCTIONS", "FormulaError", "SurfaceError", "parse_formula",
    "DEFAULT_WINDOW", "Surface", "from_formula",
    "DIVERGENCE_LIMIT", "MAX_POINTS", "MAX_STARTS", "MAX_STEPS", "Trace", "TraceError", "trace",
]
