"""The map's colour bar as HTML: the bands and ticks ``plots.colorbar`` computes, as text the page sizes."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

_STATIC = Path(__file__).parent / "static"
_TEMPLATE = Template((_STATIC / "colorbar.html").read_text(encoding="utf-8"))
CSS = (_STATIC / "colorbar.css").read_text(encoding="utf-8")


def colorbar_html(spec: dict) -> str:
    """Return the colour bar ``spec`` (from ``plots.colorbar``) as an HTML block with its style sheet."""
    n = len(spec["bands"])
    # hard stops: each contour band one flat colour, all bands equally wide
    gradient = ", ".join(f"{c} {100 * i / n:.3f}% {100 * (i + 1) / n:.3f}%" for i, c in enumerate(spec["bands"]))
    ticks = "".join(f'<span style="left: {pos:.3f}%">{html.escape(label)}</span>' for pos, label in spec["ticks"])
    label = html.escape(spec["label"])
    aria = html.escape(f"{spec['label']}: " + ", ".join(label for _, label in spec["ticks"]))
    body = _TEMPLATE.substitute(gradient=gradient, ticks=ticks, label=label, aria=aria)
    return f"<style>{CSS}</style>{body}"
