"""Page script: the surfaces panel (the logic is in app/page_surfaces.py)."""

from app.page_surfaces import render, start_warming

render()
start_warming()  # after the first visitor's page, so it never waits for the warming
