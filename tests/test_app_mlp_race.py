"""The MLP page headless (AppTest): presets carry their lesson, links carry the whole Experiment."""

from __future__ import annotations

import urllib.parse

import numpy as np
from support import mlp_page

from app.experiment import from_query, normalized, presets


def test_choosing_a_preset_fills_the_controls_and_states_its_lesson():
    at = mlp_page()
    at.sidebar.selectbox(key="mlp_preset").set_value("edge_of_stability").run()
    p = presets()["edge_of_stability"]
    assert not at.exception and not at.error
    assert at.sidebar.number_input(key="mlp_sharpness").value == p.experiment.sharpness_every
    assert at.sidebar.number_input(key="mlp_batch").value == p.experiment.batch_size
    info = [i.value.replace("\\", "") for i in at.info]
    assert any(p.lesson[:40] in v and "changed" not in v for v in info), info
    # the share link carries the whole experiment: read back, it is the preset's
    link = at.code[0].value
    query = urllib.parse.parse_qs(link.split("?", 1)[1])
    back, notes = from_query(query)
    assert notes == [] and normalized(back) == normalized(p.experiment)
    at.sidebar.number_input(key="mlp_epochs").set_value(50).run()
    assert any("changed the preset's settings" in i.value for i in at.info)


def test_a_link_sets_the_experiment_and_a_hostile_part_only_costs_itself():
    at = mlp_page({"d": "xor", "h": "8,<b>4</b>", "ep": "33", "r": ["adam(lr=0.02)", "nope(lr=1)"]})
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="mlp_dataset").value == "xor"
    assert at.sidebar.number_input(key="mlp_epochs").value == 33
    notes = " ".join(w.value for w in at.warning)
    assert "hidden layers" in notes and "optimizer 2" in notes
    assert "<b>" not in notes or "\\<b\\>" in notes  # shown as text, escaped for Markdown
    assert at.sidebar.text_input(key="mlp_hidden").value == "16, 16"  # the default, not the hostile value


def test_live_curves_are_thinned_evenly_and_keep_the_newest_epoch():
    from app.page_mlp import thin_records

    records = {0: [{"epoch": e} for e in range(1, 1001)], 1: [{"epoch": e} for e in range(1, 11)]}
    thin = thin_records(records, 150)
    epochs = [r["epoch"] for r in thin[0]]
    assert len(epochs) <= 150 and epochs[-1] == 1000  # the newest is drawn
    assert set(np.diff(epochs)) == {7}  # evenly spaced: ceil(1000 / 150) = 7 epochs apart
    assert epochs[0] <= 7  # from the start of the training
    assert thin[1] == records[1]  # a short history is drawn whole
