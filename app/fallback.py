"""What the surfaces page shows when a scene cannot be drawn: a scene that can, and words a student can act on.

A shared link is anybody's text: it may pass every field's own check and
still fail once drawn. The page then draws the link's scene with its bad
parts put back to their defaults (``scene.fall_back``), and says why in words
about what to change; a failure that is no input error is a bug, logged for
the developers, never shown as Python's own message ("math domain error").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import surfaces
from optim import HyperparameterError

from .racer import InputError
from .scene import Scene, fall_back

_LOG = logging.getLogger(__name__)

#: errors whose message is written for the student: it says what to change
STUDENT_ERRORS = (InputError, surfaces.SurfaceError, HyperparameterError)

UNEXPECTED = ("this scene could not be drawn (an internal error, logged for the developers): change the window, "
              "the start point, the number of steps or a learning rate, or choose a preset")


def student_message(error: Exception) -> str:
    """Return what to tell a student about ``error`` (plain text, not yet escaped); log any error that is a bug."""
    if isinstance(error, STUDENT_ERRORS):
        return str(error)
    _LOG.error("a scene could not be drawn", exc_info=error)
    return UNEXPECTED


def drawable(scene: Scene, draw: Callable[[Scene], Any]) -> tuple[Scene, list[str]]:
    """Return (a scene ``draw`` draws, one note per part of ``scene`` put back to its default for that).

    ``draw`` checks and draws a scene, raising on failure (the page's cached
    view); the notes are plain text, for ``as_text`` before Markdown.
    """
    return fall_back(scene, draw, student_message)
