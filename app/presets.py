"""Named presets: scenes stored as data (presets.toml), each with a title and a one-line lesson."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import replace
from pathlib import Path

from .scene import Scene, SceneError

PRESETS_FILE = Path(__file__).with_name("presets.toml")


@functools.cache
def presets() -> dict[str, Scene]:
    """Return every preset by name, read through the same codec as a shared link."""
    with PRESETS_FILE.open("rb") as f:
        raw = tomllib.load(f)
    out = {}
    for name, entry in raw.items():
        params = {k: v for k, v in entry.items() if k not in ("title", "lesson")}
        scene, notes = Scene.from_query(params)
        if notes:
            raise SceneError(f"preset {name!r} is broken: {'; '.join(notes)}")
        out[name] = replace(scene, title=entry["title"], lesson=entry["lesson"])
    return out


def get(name: str) -> Scene:
    """Return one preset by name; raise SceneError listing the names otherwise."""
    try:
        return presets()[name]
    except KeyError:
        raise SceneError(f"unknown preset {name!r}; choose one of {', '.join(presets())}") from None
