"""The optimizer's insides through the app: recorded per step in the race, packed in the payload, shown on the page.

References: hand-written loops of Adam and gradient descent, the ravine's
closed-form Hessian diag(0.1, 10), Rosenbrock's closed-form eigenvalues,
observed losses of real runs, and ``optimal_settings``' formulas written out.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import optim
import surfaces
from app import plots
from app.insides import BUDGET_BYTES, predicted_losses
from app.instruments import apply_phase_pick, optimal_values, phase_chart, phase_grid, rule_with_values
from app.payload import check_payload, payload
from app.race import run_race
from app.racer import Racer
from app.scene import Scene, load_surface
from app.state import read_scene
from surfaces import get, trace
from surfaces.curvature import optimal_settings, predicted_loss, predicted_rate

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
RAVINE_EIGENVALUES = (0.1, 10.0)


def _table(p: dict, i: int) -> dict[str, np.ndarray]:
    """Return racer i's insides table from a payload as {column: float64 array}."""
    t = p["insides"]["tables"][i]
    a = np.frombuffer(base64.b64decode(t["data"]), dtype="<f4").reshape(t["rows"], len(t["cols"])).astype(float)
    return {c: a[:, j] for j, c in enumerate(t["cols"])}


def _payload(scene: Scene) -> dict:
    surf = load_surface(scene.surface, scene.formula)
    p = payload(run_race(scene), plots.contour_image(surf, surf.window))
    check_payload(p)
    return p


# -- recording -------------------------------------------------------------------------------


def _adam_by_hand(grad, p0, lr, b1, b2, eps, steps):
    p, m, s = np.array(p0, dtype=float), np.zeros(2), np.zeros(2)
    out = {k: [] for k in ("g", "m", "s", "m_hat", "s_hat", "eff", "path")}
    out["path"].append(p.copy())
    for t in range(1, steps + 1):
        g = grad(p)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        mh, sh = m / (1 - b1**t), s / (1 - b2**t)
        eff = lr / (np.sqrt(sh) + eps)
        p = p - eff * mh
        for k, v in (("g", g), ("m", m), ("s", s), ("m_hat", mh), ("s_hat", sh), ("eff", eff), ("path", p)):
            out[k].append(v.copy())
    return {k: np.array(v) for k, v in out.items()}


def test_recorded_adam_state_in_a_race_equals_a_hand_computed_run():
    hp = {"lr": 0.1, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3}
    scene = Scene(surface="custom", formula="x^2 + 3y^2 + x y", racers=(Racer("adam", tuple(hp.items())),),
                  start=(1.5, -2.0), steps=12, insides=True)
    run = run_race(scene).runs[0]
    ref = _adam_by_hand(lambda p: np.array([2 * p[0] + p[1], 6 * p[1] + p[0]]), (1.5, -2.0), hp["lr"],
                        hp["beta1"], hp["beta2"], hp["eps"], 12)
    ins = run.internals
    np.testing.assert_allclose(ins.grad, ref["g"], rtol=1e-12)
    np.testing.assert_allclose(ins.states["m"][1:], ref["m"], rtol=1e-12)
    np.testing.assert_allclose(ins.states["s"][1:], ref["s"], rtol=1e-12)
    np.testing.assert_allclose(ins.derived["m_hat"][1:], ref["m_hat"], rtol=1e-12)
    np.testing.assert_allclose(ins.derived["s_hat"][1:], ref["s_hat"], rtol=1e-12)
    np.testing.assert_allclose(ins.derived["effective_lr"][1:], ref["eff"], rtol=1e-12)
    np.testing.assert_allclose(run.path[0, :, 0], ref["path"], rtol=1e-12)
    # the payload's rows: frame k carries the gradient felt at path[k] and the moment that makes step k+1
    p = _payload(scene)
    tab = _table(p, 0)
    assert p["insides"]["tables"][0]["vectors"] == ["grad", "step", "m_hat"]
    np.testing.assert_allclose(tab["grad_x"][:12], -ref["g"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(tab["m_hat_y"][:12], -ref["m_hat"][:, 1], rtol=1e-6)
    np.testing.assert_allclose(tab["eff_x"][:12], ref["eff"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(tab["step_y"][:12], ref["path"][1:, 1] - ref["path"][:-1, 1], rtol=1e-5)
    assert np.isnan(tab["grad_x"][12])  # the last frame has taken no step
    assert "stab_note" in p["insides"]["tables"][0]  # Adam has no fixed limit


@pytest.mark.parametrize("name,hp", [
    ("sgd", {"lr": 0.001}), ("heavy_ball", {"lr": 0.001, "beta": 0.9, "nesterov": True}),
    ("adam", {"lr": 0.05}), ("lion", {"lr": 0.01}), ("adagrad", {"lr": 0.3}),
])
def test_recording_leaves_the_path_alone(name, hp):
    surface = get("rosenbrock")
    plain = trace(surface, optim.make(name, **hp), surface.start, 500, noise=0.3, seed=2)
    rec = trace(surface, optim.make(name, **hp), surface.start, 500, noise=0.3, seed=2, record=True)
    np.testing.assert_array_equal(rec.path, plain.path)
    np.testing.assert_array_equal(rec.loss, plain.loss)
    assert rec.diverged_at == plain.diverged_at and plain.internals is None
    with pytest.raises(surfaces.TraceError, match="one start"):
        trace(surface, optim.make(name, **hp), [(0, 0), (1, 1)], 5, record=True)


def test_insides_only_for_one_start_and_one_seed():
    base = Scene(surface="ravine", steps=50, insides=True)
    assert all(r.internals is not None for r in run_race(base).runs)
    assert all(r.internals is None for r in run_race(replace(base, more_starts=((1.0, 1.0),))).runs)
    assert all(r.internals is None for r in run_race(replace(base, n_seeds=2, noise=0.1)).runs)
    assert all(r.internals is None for r in run_race(replace(base, insides=False)).runs)
    assert _payload(replace(base, insides=False))["insides"] is None
    several = _payload(replace(base, more_starts=((1.0, 1.0),)))
    assert several["insides"] is None and "one start" in several["insides_note"]
    assert _payload(base)["insides_note"] is None


def test_nesterov_look_ahead_is_the_velocity_coast():
    # moving-average Nesterov on the ravine, by hand: v = beta v + (1 - beta) g; step lr (beta v + (1 - beta) g)
    lr, beta = 0.3, 0.6
    scene = Scene(surface="ravine", racers=(Racer("momentum", (("lr", lr), ("beta", beta), ("nesterov", True))),),
                  start=(-9.0, 1.5), steps=6, insides=True)
    tab = _table(_payload(scene), 0)
    p, v = np.array([-9.0, 1.5]), np.zeros(2)
    for k in range(6):
        g = np.array([0.1 * p[0], 10.0 * p[1]])
        v = beta * v + (1 - beta) * g
        np.testing.assert_allclose([tab["v_x"][k], tab["v_y"][k]], -v, rtol=1e-6)
        np.testing.assert_allclose([tab["ahead_x"][k], tab["ahead_y"][k]], -lr * beta * v, rtol=1e-6)
        p = p - lr * (beta * v + (1 - beta) * g)
        np.testing.assert_allclose([tab["step_x"][k], tab["step_y"][k]], -lr * (beta * v + (1 - beta) * g),
                                   rtol=1e-5)


def test_curvature_and_stability_per_step():
    # Rosenbrock: the eigenvalues at each recorded point equal the closed form
    scene = Scene(racers=(Racer("sgd", (("lr", 0.001),)),), steps=40, insides=True)
    run = run_race(scene).runs[0]
    tab = _table(_payload(scene), 0)
    x, y = run.path[0, :, 0, 0], run.path[0, :, 0, 1]
    a, b, c = 1200 * x**2 - 400 * y + 2, -400 * x, 200.0
    mid, half = (a + c) / 2, np.sqrt(((a - c) / 2) ** 2 + b**2)
    np.testing.assert_allclose(tab["lam_lo"], mid - half, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(tab["lam_hi"], mid + half, rtol=1e-6)
    np.testing.assert_allclose(tab["stab"][:40], 0.001 * (mid + half)[:40], rtol=1e-6)
    # the ravine: lambda_max = 10 everywhere, so the stability number is lr x 10 (GD) and lr (1 - beta) x 10 (ema)
    scene = Scene(surface="ravine", steps=20, insides=True, racers=(
        Racer("sgd", (("lr", 0.25),)), Racer("momentum", (("lr", 0.5), ("beta", 0.8))),
        Racer("heavy_ball", (("lr", 0.1), ("beta", 0.5)))))
    p = _payload(scene)
    for i, expected, limit in ((0, 2.5, 2.0), (1, 1.0, 3.6), (2, 1.0, 3.0)):
        t = p["insides"]["tables"][i]
        rows = _table(p, i)["stab"]
        assert t["stab_limit"] == pytest.approx(limit)
        finite = rows[np.isfinite(rows)]
        assert finite.size and np.allclose(finite, expected, rtol=1e-6)
    angle = _table(p, 0)["angle"][0]  # the flat direction (0.1) is the x axis
    assert abs(np.sin(angle)) < 1e-6


def test_payload_with_insides_stays_under_400_kb_for_the_default_scene():
    # measured as tests/benchmarks/bench_app.py measures it: compact JSON with the background image
    p = _payload(Scene(insides=True))
    size = len(json.dumps(p, separators=(",", ":")).encode())
    assert p["insides"]["every"] == 1 and all(t is not None for t in p["insides"]["tables"])
    assert size <= 400 * 1024, f"{size / 1024:.0f} KB"
    # a long race is thinned, not dropped: its insides stay within their budget
    long = _payload(Scene(steps=5000, insides=True))
    assert long["insides"]["every"] > 1
    assert len(json.dumps(long["insides"], separators=(",", ":"))) <= BUDGET_BYTES * 1.05


# -- predicted against observed, on quadratics ---------------------------------------------------


@pytest.mark.parametrize("name,hp,kind,form", [
    ("sgd", {"lr": 0.15}, "sgd", "ema"),
    ("momentum", {"lr": 0.2, "beta": 0.5}, "momentum", "ema"),
    ("heavy_ball", {"lr": 0.1, "beta": 0.5}, "momentum", "heavy_ball"),
])
def test_predicted_line_equals_the_observed_loss_and_rate_on_the_ravine(name, hp, kind, form):
    ravine = get("ravine")
    tr = trace(ravine, optim.make(name, **hp), ravine.start, 400)
    pred = predicted_loss(ravine, kind, hp["lr"], hp.get("beta", 0.0), ravine.start, 400, form)
    np.testing.assert_allclose(pred[:51], tr.loss[:51], rtol=1e-6)
    # late in the run the observed loss shrinks by the predicted rate squared each step (a real dominant root)
    rate = predicted_rate(kind, hp["lr"], hp.get("beta", 0.0), RAVINE_EIGENVALUES, form)
    np.testing.assert_allclose(tr.loss[301:351] / tr.loss[300:350], rate**2, atol=1e-6)
    np.testing.assert_allclose(pred[301:351] / pred[300:350], rate**2, atol=1e-6)
    # and the payload carries that line for the loss chart
    scene = Scene(surface="ravine", racers=(Racer(name, tuple(hp.items())),), steps=50)
    line = np.array(_payload(scene)["racers"][0]["predicted"], dtype=float)
    np.testing.assert_allclose(line, tr.loss[:51], rtol=1e-4)


def test_no_prediction_off_quadratics_or_for_adaptive_racers():
    scene = Scene(surface="ravine", steps=30, racers=(Racer("adam"), Racer("sgd", (("lr", 0.1),)),
                                                      Racer("sgd", (("lr", 0.1),), schedule="cosine")))
    race = run_race(scene)
    lines = predicted_losses(race, load_surface("ravine"))
    assert lines[0] is None and lines[1] is not None and lines[2] is None
    assert predicted_losses(run_race(replace(scene, noise=0.5)), load_surface("ravine")) == [None] * 3
    assert all(r["predicted"] is None for r in _payload(replace(scene, surface="rosenbrock"))["racers"])


# -- the page's instruments ------------------------------------------------------------------------


def test_rule_with_values_shows_the_recorded_step():
    scene = Scene(surface="ravine", racers=(Racer("sgd", (("lr", 0.05),)),), start=(-9.0, 1.5), steps=3,
                  insides=True)
    ins = run_race(scene).runs[0].internals
    lines = rule_with_values(scene.racers[0], ins, 1)
    # by hand: g = (0.1 x -9, 10 x 1.5) = (-0.9, 15); theta_1 = (-9, 1.5) - 0.05 g = (-8.955, 0.75)
    assert r"\left(-0.9,\ 15\right)" in lines[0]
    assert r"\left(-8.955,\ 0.75\right)" in lines[-1]


def test_optimal_values_are_the_closed_forms():
    best = optimal_settings(RAVINE_EIGENVALUES)
    assert optimal_values(Racer("sgd"), RAVINE_EIGENVALUES) == {"lr": pytest.approx(2 / (0.1 + 10))}
    k = 100.0
    beta = ((np.sqrt(k) - 1) / (np.sqrt(k) + 1)) ** 2
    hb = optimal_values(Racer("heavy_ball"), RAVINE_EIGENVALUES)
    assert hb["beta"] == pytest.approx(beta) and hb["lr"] == pytest.approx((2 / (np.sqrt(10) + np.sqrt(0.1))) ** 2)
    ema = optimal_values(Racer("momentum"), RAVINE_EIGENVALUES)
    assert ema["lr"] == pytest.approx(hb["lr"] / (1 - beta)) and ema["lr"] == pytest.approx(best.momentum_lr_ema)


def _ravine_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["s"] = "ravine"
    at.query_params["r"] = ["sgd(lr=0.1)", "momentum(lr=0.2,beta=0.5)", "heavy_ball(lr=0.05,beta=0.3)", "adam(lr=0.05)"]
    at.query_params["n"] = "100"
    at.run()
    at.session_state["tab"] = "Update rules"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_optimal_buttons_set_the_racers():
    at = _ravine_page()
    best = optimal_settings(RAVINE_EIGENVALUES)
    ids = at.session_state["r_ids"]
    assert {b.key for b in at.button if b.key.startswith("act_optimal_")} == {f"act_optimal_{i}" for i in ids[:3]}
    expected = {ids[0]: {"lr": best.gd_lr},
                ids[1]: {"lr": best.momentum_lr_ema, "beta": best.momentum_beta},
                ids[2]: {"lr": best.momentum_lr_heavy_ball, "beta": best.momentum_beta}}
    for i, values in expected.items():
        at.button(key=f"act_optimal_{i}").click().run()
        assert not at.exception, [e.value for e in at.exception]
        for name, v in values.items():
            assert at.session_state[f"r{i}_{name}"] == pytest.approx(v, rel=1e-3)
    # the scene now races with those settings
    scene = read_scene(at.session_state)
    assert dict(scene.racers[1].hp)["lr"] == pytest.approx(best.momentum_lr_ema, rel=1e-3)
    assert any("Curvatures 0.1 and 10" in c.value for c in at.caption)


def test_phase_diagram_click_sets_lr_and_beta():
    at = _ravine_page()
    ids = at.session_state["r_ids"]
    # the chart is on the page, with a click selection named "pick" over (lr, beta)
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1 and '"pick"' in charts[0].proto.spec
    spec = phase_chart(phase_grid(RAVINE_EIGENVALUES, "ema"), 0.2, 0.5).to_dict()
    assert any(p["name"] == "pick" and p["select"]["fields"] == ["lr", "beta"] for p in spec["params"])
    # what the chart's callback does with a click, on the page's own session state
    state = {}
    assert apply_phase_pick(state, ids[1], {"pick": [{"lr": 0.7342, "beta": 0.61}]})
    assert state == {f"r{ids[1]}_lr": 0.7342, f"r{ids[1]}_beta": 0.61}
    assert not apply_phase_pick(state, ids[1], {"pick": []}) and not apply_phase_pick(state, ids[1], None)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception
    assert dict(read_scene(at.session_state).racers[1].hp) == {"lr": 0.7342, "beta": 0.61, "nesterov": False}


def test_phase_grid_spans_all_three_regions():
    pd = phase_grid(RAVINE_EIGENVALUES, "heavy_ball")
    assert set(np.unique(pd.region)) == {0, 1, 2}
    # the divergence edge in the heavy-ball form: lr x 10 = 2 (1 + beta)
    for bi, beta in enumerate(pd.betas):
        edge = 2 * (1 + beta) / 10
        assert (pd.rate[bi, pd.lrs < edge * 0.99] < 1).all() and (pd.rate[bi, pd.lrs > edge * 1.01] > 1).all()


def test_scene_flag_travels_in_the_link():
    scene = Scene(surface="ravine", insides=True)
    q = scene.to_query()
    assert q["ins"] == "1" and "ins" not in Scene(surface="ravine").to_query()
    back, notes = Scene.from_query(q)
    assert back.insides and not notes
    _, notes = Scene.from_query({**q, "ins": "yes"})
    assert notes and "1 (on) or 0 (off)" in notes[0]
    # turning the insides on keeps the race's identity (the animator keeps its place)
    assert _payload(scene)["scene_id"] == _payload(replace(scene, insides=False))["scene_id"]
