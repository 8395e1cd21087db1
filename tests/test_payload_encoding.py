"""The race payload is encoded once per scene (app/payload.EncodedPayload) and sent as JSON bytes.

What the browser gets must be exactly the payload the page built, with the per-run keys
(title, presenter mode, probe) it sets on each run; nothing else may change, and what the
payload check refuses is still refused.
"""

from __future__ import annotations

import json
import math

import pytest

from app.payload import PER_RUN, EncodedPayload, RacePayloadError, payload
from app.race import run_race
from app.scene import Scene


@pytest.fixture(scope="module")
def built() -> dict:
    return payload(run_race(Scene(surface="himmelblau", steps=30).check()), "")


def test_encoded_payload_decodes_to_the_payload_with_the_run_keys_set(built: dict) -> None:
    enc = EncodedPayload.of(built)
    assert json.loads(enc.json()) == json.loads(json.dumps(built))  # no run keys changed: the payload as it was
    probe = {"x": 1.0, "y": 2.0, "eigenvalues": [1.0, 3.0], "angle": 0.5, "condition": 3.0, "note": "n",
             "stability": ["s"] * len(built["racers"])}
    got = json.loads(enc.with_run(title="T", presenter=True, probe=probe).json())
    want = {**json.loads(json.dumps(built)), "title": "T", "presenter": True, "probe": probe}
    assert got == want
    assert enc.with_run(title="U")["title"] == "U" and enc["title"] == built["title"]  # with_run copies
    assert set(PER_RUN) <= set(got)


def test_the_text_is_made_once_and_a_run_only_splices(built: dict) -> None:
    enc = EncodedPayload.of(built)
    run = enc.with_run(title="", presenter=False, probe=None)
    assert run.text is enc.text  # the scene's part is shared, not encoded again
    assert run.json().count('"racers"') == 1  # no key twice: the run's keys are left out of the scene's text
    assert all(f'"{k}"' not in enc.text for k in PER_RUN)


def test_what_the_check_refuses_is_still_refused(built: dict) -> None:
    with pytest.raises(RacePayloadError):
        EncodedPayload.of({**built, "extent": [1, 0, 0, 1]})
    enc = EncodedPayload.of(built)
    with pytest.raises(RacePayloadError, match="stability"):
        enc.with_run(probe={"x": 1.0, "y": 2.0, "eigenvalues": [1.0, 3.0], "angle": None, "condition": None,
                            "note": "n", "stability": []})
    with pytest.raises(RacePayloadError, match="per run"):
        enc.with_run(steps=3)
    # a value JSON cannot carry (the browser's JSON.parse would fail on NaN) is refused on the server
    with pytest.raises(ValueError):
        EncodedPayload.of({**built, "surface3d_note": math.nan})
