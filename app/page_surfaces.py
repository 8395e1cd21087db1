"""The surfaces panel: optimizers racing on a 2-D loss surface, animated in the browser."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

import surfaces
from optim import OPTIMIZERS, SCHEDULES
from surfaces.formula import number_latex

from . import export, page_compare, plots, presets
from .controls import racer_controls
from .images import page_drawing, surface_images
from .payload import payload
from .race import Race, results, run_race, tolerance, window_of
from .race_component import race_view
from .scene import LIMITS, Scene, SceneError, load_surface
from .state import read_scene, write_scene

CUSTOM = surfaces.CUSTOM


# -- cached computation (bounded: a class of students shares these) ---------------

@st.cache_resource(max_entries=128, ttl=3600, show_spinner=False)
def cached_race(scene: Scene) -> Race:
    """Return the race of a checked scene; shared read-only across sessions (never mutated)."""
    return run_race(scene)


@st.cache_data(max_entries=128, ttl=3600, show_spinner=False)
def cached_view(scene: Scene) -> tuple[dict, list[dict]]:
    """Return (animator payload, results rows) for a checked scene."""
    race = cached_race(scene)
    surf = load_surface(scene.surface, scene.formula)
    image, _ = surface_images(scene.surface, scene.formula, window_of(scene, surf))
    return payload(race, image), results(race)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def cached_3d(scene: Scene, elev: float, azim: float) -> bytes:
    """Return the 3-D view as PNG bytes."""
    surf = load_surface(scene.surface, scene.formula)
    fig = plots.surface_3d(surf, window_of(scene, surf), cached_race(scene), elev, azim)
    return plots.figure_png(fig)


# -- state helpers ------------------------------------------------------------------

def _query_dict() -> dict:
    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def _surface_title(name: str) -> str:
    return "Custom formula..." if name == CUSTOM else surfaces.CATALOGUE[name].title


def _show_window(surf) -> None:
    """Put the surface's own window into the window controls."""
    (x0, x1), (y0, y1) = surf.window
    st.session_state.update(win_x0=float(x0), win_x1=float(x1), win_y0=float(y0), win_y1=float(y1))


def _on_surface_change() -> None:
    """A new surface brings its own window and start point (a custom formula only once it parses)."""
    name = st.session_state["surface"]
    try:
        surf = load_surface(name, st.session_state.get("formula", "") if name == CUSTOM else "")
    except SceneError:
        return
    _show_window(surf)
    st.session_state.update(win_custom=False, start_x=float(surf.start[0]), start_y=float(surf.start[1]))


def _on_formula_change() -> None:
    st.session_state["formula"] = st.session_state["formula_text"]
    try:
        surf = load_surface(CUSTOM, st.session_state["formula"])
    except SceneError:
        return
    if not st.session_state.get("win_custom"):
        _show_window(surf)


def load_scene_into_state(scene: Scene) -> None:
    """Show ``scene`` in every control (used by links and presets)."""
    write_scene(scene, st.session_state, load_surface(scene.surface, scene.formula))


def _init_state() -> None:
    if "r_ids" in st.session_state:
        return
    scene, notes = Scene.from_query(_query_dict()) if len(st.query_params) else (Scene(), [])
    load_scene_into_state(scene)
    st.session_state["link_notes"] = notes
    st.session_state["last_good"] = scene
    st.session_state["presenter"] = st.query_params.get("present") == "1"


# -- controls -----------------------------------------------------------------------

def _on_preset() -> None:
    name = st.session_state.get("preset")
    if name:
        load_scene_into_state(presets.get(name))
        st.session_state["preset_scene"] = presets.get(name)


def _controls() -> None:
    _preset_controls()
    st.sidebar.header("Scene")
    _surface_controls()
    _window_controls()
    _start_and_run_controls()
    st.sidebar.header("Optimizers")
    racer_controls("r", LIMITS["racers"][1])


def _preset_controls() -> None:
    sb = st.sidebar
    sb.toggle("Presenter mode", key="presenter",
              help="hide the controls, enlarge the plot and fonts; keys: space play/pause, ← → step, Home restart")
    sb.selectbox("Preset", [None, *presets.presets()], key="preset", on_change=_on_preset,
                 format_func=lambda n: "Choose a lesson..." if n is None else presets.presets()[n].title,
                 help="a prepared scene with a one-line lesson")


def _surface_controls() -> None:
    sb = st.sidebar
    sb.selectbox("Surface", [*surfaces.CATALOGUE, CUSTOM], key="surface", format_func=_surface_title,
                 on_change=_on_surface_change)
    if st.session_state["surface"] == CUSTOM:
        st.session_state.setdefault("formula_text", st.session_state.get("formula", ""))
        sb.text_input("Formula in x and y", key="formula_text", on_change=_on_formula_change,
                      placeholder="(1-x)^2 + 100(y-x^2)^2", max_chars=LIMITS["formula_chars"][1],
                      help="Numbers, x, y, pi, e, + - * / ^, parentheses and sin cos tan exp log sqrt abs tanh ...")


def _window_controls() -> None:
    with st.sidebar.expander("View window"):
        sb_cols = st.columns(2)
        st.checkbox("use my own window", key="win_custom")
        sb_cols[0].number_input("x min", key="win_x0", format="%g", step=0.5)
        sb_cols[1].number_input("x max", key="win_x1", format="%g", step=0.5)
        sb_cols[0].number_input("y min", key="win_y0", format="%g", step=0.5)
        sb_cols[1].number_input("y max", key="win_y1", format="%g", step=0.5)


def _bounds(name: str) -> dict:
    """Return a number widget's min_value and max_value: the Scene's own limits for that field."""
    lo, hi = LIMITS[name]
    return {"min_value": lo, "max_value": hi}


def _start_and_run_controls() -> None:
    sb = st.sidebar
    c = sb.columns(2)
    c[0].number_input("Start x", key="start_x", format="%g", step=0.1, help="or click the map")
    c[1].number_input("Start y", key="start_y", format="%g", step=0.1, help="or click the map")
    sb.number_input("Steps", key="steps", **_bounds("steps"), step=50)
    c = sb.columns(2)
    c[0].number_input("Gradient noise", key="noise", **_bounds("noise"), format="%g",
                      step=0.1, help="standard deviation of Gaussian noise added to every gradient: "
                      "what a mini-batch does to the true gradient")
    c[1].number_input("Seed", key="seed", **_bounds("seed"), step=1)
    surf_name = st.session_state["surface"]
    if surf_name != CUSTOM and getattr(surfaces.CATALOGUE[surf_name], "stochastic", False):
        sb.number_input("Batch size (0 = all examples)", key="batch_size", **_bounds("batch_size"), step=1,
                        help="true mini-batches drawn from the surface's dataset, a fresh shuffle every epoch")
    with sb.expander("Several starts / noise seeds"):
        st.text_input("More start points", key="more_starts", placeholder="x,y; x,y")
        st.number_input("Random starts", key="random_starts", **_bounds("random_starts"), step=1)
        st.number_input("Noise seeds per optimizer", key="n_seeds", **_bounds("n_seeds"), step=1)


# -- the page -------------------------------------------------------------------------

def _rules(scene: Scene) -> None:
    seen = set()
    for r in scene.racers:
        cls = OPTIMIZERS[r.optimizer]
        vals = r.values()
        where = ", ".join(
            f"{h.symbol} = {number_latex(vals[h.name])}" for h in cls.hyperparameters if h.kind is float
        )
        key = (r.optimizer, where, r.schedule)
        if key in seen:
            continue
        seen.add(key)
        st.markdown(f"**{r.label()}**  \n<span style='color:{r.color}'>●</span> `{cls.torch_equivalent}`",
                    unsafe_allow_html=True)
        st.latex(cls.rule_latex)
        st.latex(r"\text{where } " + where.replace(" ", r"\ ") if where else "")
        if r.schedule != "constant":
            st.latex(SCHEDULES[r.schedule].latex)


PRESENTER_CSS = (Path(__file__).parent / "static" / "presenter.css").read_text()


def _exit_presenter() -> None:
    st.session_state["presenter"] = False


def render() -> None:
    """Draw the surfaces panel (counted as drawing, so the catalogue warming waits for it)."""
    with page_drawing():
        _render()


def _render() -> None:
    _init_state()
    _take_map_click()
    _controls()
    presenter = bool(st.session_state.get("presenter"))
    if presenter:
        st.html(f"<style>{PRESENTER_CSS}</style>")
        st.button("Leave presenter mode", key="act_leave_presenter", on_click=_exit_presenter)
    for note in st.session_state.pop("link_notes", []):
        st.warning(note)
    scene, view, rows = _scene_to_show()
    surf = load_surface(scene.surface, scene.formula)
    _heading(scene, surf)
    click = race_view({**view, "title": "", "presenter": presenter}, key="view_race", height=720 if presenter else 620)
    if click is not None:
        st.session_state["_pending_start"] = click
        st.rerun()
    _keep_url(scene, presenter)
    if not presenter:
        _tabs(scene, surf, rows)


def _take_map_click() -> None:
    """Move the start to where the map was clicked in the previous run (before the start widgets exist)."""
    pending = st.session_state.pop("_pending_start", None)
    if pending is not None:
        st.session_state["start_x"], st.session_state["start_y"] = float(pending[0]), float(pending[1])


def _scene_to_show() -> tuple[Scene, dict, list[dict]]:
    """Return (scene, payload, results rows) of the widgets' scene, or of the last good one with an error shown."""
    try:
        scene = read_scene(st.session_state).check()
        view, rows = cached_view(scene)
        st.session_state["last_good"] = scene
    except ValueError as e:  # SceneError, or a start point that does not read
        st.error(f"{e}. Showing the last scene that worked.", icon="⚠️")
        scene = st.session_state["last_good"]
        view, rows = cached_view(scene)
    return scene, view, rows


def _heading(scene: Scene, surf) -> None:
    """Draw the title, formula and lesson (the preset's while the scene still is the preset's) and the colour bar."""
    preset = st.session_state.get("preset_scene")
    if preset is not None and not preset.same_picture(scene):
        st.session_state["preset_scene"] = preset = None
    st.markdown(f"### {preset.title if preset else surf.title}")
    lesson = preset.lesson if preset else getattr(surf, "lesson", "")
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    c1.caption(f"${surf.latex}$" + (f" — {lesson}" if lesson else ""))
    c2.image(surface_images(scene.surface, scene.formula, window_of(scene, surf))[1], width="stretch")


def _keep_url(scene: Scene, presenter: bool) -> None:
    """Write the scene into the page's URL, so the address bar is always a link to what is shown."""
    query = scene.to_query()
    if presenter:
        query["present"] = "1"
    if query != _query_dict_flat():
        st.query_params.from_dict(query)


def _tabs(scene: Scene, surf, rows: list[dict]) -> None:
    """Draw the results, update rules, 3-D view and share tabs; only the open one runs."""
    tab_results, tab_rules, tab_3d, tab_share, tab_compare = st.tabs(
        ["Results", "Update rules", "3-D view", "Share & export", "Compare fairly"], key="tab", on_change="rerun")
    for tab, draw in ((tab_results, lambda: _results(scene, surf, rows)), (tab_rules, lambda: _rules(scene)),
                      (tab_3d, lambda: _view_3d(scene)), (tab_share, lambda: _share(scene)),
                      (tab_compare, lambda: page_compare.render(scene))):
        # Lazy tabs: the 3-D view and the exports cost nothing until asked for.
        if tab.open:
            with tab:
                draw()


def _results(scene: Scene, surf, rows: list[dict]) -> None:
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "final loss": st.column_config.NumberColumn(format="%.4g"),
        "distance to nearest minimum": st.column_config.NumberColumn(format="%.3g"),
    })
    st.caption(f"Reaching a minimum means coming within {tolerance(scene, surf):.3g} "
               "(1 % of the window's diagonal) of a known global minimum. First seed and first start only.")


def _view_3d(scene: Scene) -> None:
    c1, c2 = st.columns(2)
    st.session_state.setdefault("elev", 35)
    st.session_state.setdefault("azim", -60)
    elev = c1.slider("elevation (°)", 0, 90, key="elev")
    azim = c2.slider("azimuth (°)", -180, 180, key="azim")
    st.image(cached_3d(scene, float(elev), float(azim)), width="content")


def _share(scene: Scene) -> None:
    base = (st.context.url or "").split("?")[0]
    st.markdown("**Link to exactly this scene** (copy it with the button at the right of the box):")
    st.code(f"{base}?{urlencode(scene.to_query(), doseq=True)}", language=None)
    race = cached_race(scene)
    c1, c2 = st.columns(2)
    c1.download_button("Trajectories (CSV)", export.race_csv(race), file_name="descent-trajectories.csv",
                       mime="text/csv", key="act_dl_csv", on_click="ignore")
    c2.download_button("Still picture (PNG)", _png(scene), file_name="descent-race.png", mime="image/png",
                       key="act_dl_png", on_click="ignore")
    for col, fmt in zip(st.columns(2), ("gif", "mp4")):
        _animation_download(col, fmt, scene, race)
    st.caption("The same files from a terminal: `python -m app render --link \"<link>\" --out race.gif` "
               "(see `python -m app --help`).")


def _animation_download(col, fmt: str, scene: Scene, race: Race) -> None:
    """Draw the button that renders the race as a GIF or MP4 on request, then its download button."""
    if col.button(f"Prepare animation ({fmt.upper()})", key=f"act_make_{fmt}"):
        bar = col.progress(0.0, text="drawing frames...")
        frames = export.render_frames(race, 120, progress=lambda f: bar.progress(f, text="drawing frames..."))
        bar.progress(1.0, text="encoding...")
        data = export.gif_bytes(frames) if fmt == "gif" else export.mp4_bytes(frames)
        st.session_state[f"anim_{fmt}"] = (scene, data)
        bar.empty()
    ready = st.session_state.get(f"anim_{fmt}")
    if ready and ready[0] == scene:
        col.download_button(f"Download {fmt.upper()} ({len(ready[1]) / 1024:.0f} KB)", ready[1],
                            file_name=f"descent-race.{fmt}", mime="image/gif" if fmt == "gif" else "video/mp4",
                            key=f"act_dl_{fmt}", on_click="ignore")


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _png(scene: Scene) -> bytes:
    return export.png_bytes(cached_race(scene))


def _query_dict_flat() -> dict:
    d = _query_dict()
    return {k: (v if k == "r" else v[-1]) for k, v in d.items()}
