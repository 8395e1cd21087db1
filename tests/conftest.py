"""Fixtures shared by the browser test files, and the property tests' profile under CI."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings
from playwright.sync_api import sync_playwright
from support import launch, require_chromium

# Under CI (CI=true) the property tests draw the same examples on every run: a failure there comes
# from the change being checked, and the log reproduces it. Elsewhere every run draws new examples,
# which is how tests/test_domain.py found the sqrt(x)^2 printing bug; a bug found that way gets its
# own explicit test, which CI then always runs.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@pytest.fixture(scope="module")
def browser():
    """Return a headless Chromium (Debian's) for the test module; skipped where there is none, except under CI."""
    require_chromium()
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()
