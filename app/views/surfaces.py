"""Page script: the surfaces panel (the logic is in app/page_surfaces.py)."""

from app.page_surfaces import render

render()
