"""Racer, its colours, and the base class of errors in what a user typed (until the merge brings H1's module).

This branch's stand-in for ``app/racer.py``: it re-exports ``Racer`` and
``PALETTE`` from ``app/scene.py`` and declares ``InputError``, so the MLP
side imports them from where they will live.
"""

from __future__ import annotations

from .scene import PALETTE, Racer


class InputError(ValueError):
    """A value a user typed or chose cannot be used; the message says what to change."""


__all__ = ["PALETTE", "Racer", "InputError"]
