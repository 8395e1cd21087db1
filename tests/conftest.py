"""Fixtures shared by the browser test files."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright
from support import launch, require_chromium


@pytest.fixture(scope="module")
def browser():
    """Return a headless Chromium (Debian's) for the test module; skipped where there is none, except under CI."""
    require_chromium()
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()
