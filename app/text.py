"""User text shown as text: what a link, a formula or an uploaded file says, escaped for Streamlit's Markdown.

``st.error``, ``st.warning``, ``st.caption`` and ``st.markdown`` render
Markdown (GitHub-flavoured, with maths, ``:red[...]`` directives and
``:material/...:`` icons). Text a student or a link wrote must read as typed
there: a surface name ``![t](http://...)`` must not make every browser fetch
that address, a formula ``[log in](http://...)`` must not become a link, and
``x*y*x`` must not lose its stars to emphasis.
"""

from __future__ import annotations

import re

# What can start Markdown, HTML, maths, a directive or an autolink in Streamlit's renderer. Ordinary
# prose (letters, digits, spaces, . , ' - ( ) = + / ^) passes through, so a message reads the same in
# the source ("got -0.5"); ":" and "@" are escaped so that no http://... or name@host.org is a link.
_ACTIVE = re.compile(r"([\\`*_\[\]<>!~|$:&#@{}])")
# GitHub-flavoured Markdown also links a bare www.host, with no colon
_WWW = re.compile(r"(?i)(www)\.")
# a line starting with "-", "+", "1." or "1)" would become a list item, "=" a heading underline
_LINE_START = re.compile(r"(?m)^(\d*)([-+=.)])")
# indented by four spaces a line would become a code block; Markdown drops a paragraph's indent anyway
_INDENT = re.compile(r"(?m)^[ \t]+")


def as_text(text: object) -> str:
    """Return ``str(text)`` escaped so that Streamlit's Markdown shows it as typed: no link, image, HTML, emphasis or maths."""
    out = _WWW.sub(r"\1\\.", _ACTIVE.sub(r"\\\1", _INDENT.sub("", str(text))))
    out = _LINE_START.sub(r"\1\\\2", out)
    # a single newline is a space in Markdown: two trailing spaces keep the line break the text has
    return out.replace("\n", "  \n")
