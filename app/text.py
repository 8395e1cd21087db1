"""Showing text a user wrote (a formula, a link's values, an uploaded file's cells) as text, never as Markdown."""

from __future__ import annotations

import re


def plain(text: object) -> str:
    """Return ``text`` with every character that can start Markdown (links, images, code, emphasis, maths) escaped.

    st.error, st.warning and st.markdown render Markdown: a formula
    ``__import__('os')`` would read as a bold "import('os')", and a cell
    ``![x](http://...)`` would make every browser fetch that address.
    """
    # ":" and "." too: GitHub-flavoured Markdown links a bare http://... or www.... by itself.
    return re.sub(r"([\\`*_\[\]<>!$#|~:.])", r"\\\1", str(text))
