"""Page script: the MLP panel (the logic is in app/page_mlp.py)."""

from app.page_mlp import render

render()
