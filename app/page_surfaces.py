"""The surfaces panel: optimizers racing on a 2-D loss surface, animated in the browser."""

from __future__ import annotations

import textwrap
import threading
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

import surfaces
from optim import OPTIMIZERS, SCHEDULES
from surfaces.formula import number_latex

from . import export, images, instruments, outcome, page_compare, presets
from .colorbar import colorbar_html
from .controls import overlap_note, racer_controls
from .fallback import drawable, student_message
from .images import page_drawing, surface_images
from .insides import probe
from .payload import EncodedPayload, payload
from .race import Race, main_start, results, run_race, tolerance, window_of
from .race_component import race_view
from .scene import LIMITS, Scene, SceneError, load_surface
from .state import EXPERIMENT_KEYS, SCENE_KEYS, read_scene, scene_query, write_scene
from .text import as_text

CUSTOM = surfaces.CUSTOM
#: session-state key of the Shift+clicked probe point: {"where": _probe_where(...), "xy": (x, y)}
PROBE_KEY = "_probe"


# -- cached computation (bounded: a class of students shares these) ---------------

@st.cache_resource(max_entries=128, ttl=3600, show_spinner=False)
def cached_race(scene: Scene) -> Race:
    """Return the race of a checked scene; shared read-only across sessions (never mutated)."""
    return run_race(scene)


@st.cache_data(max_entries=128, ttl=3600, show_spinner=False)
def cached_view(scene: Scene) -> tuple[EncodedPayload, list[dict]]:
    """Return (animator payload, checked and encoded once, and results rows) for a checked scene."""
    race = cached_race(scene)
    surf = load_surface(scene.surface, scene.formula)
    image, _ = surface_images(scene.surface, scene.formula, window_of(scene, surf), scene.equal)
    return EncodedPayload.of(payload(race, image)), results(race)


def default_scene(surface: str) -> Scene:
    """Return the scene a fresh page shows once the student picks ``surface``: its window and start, default racers.

    Built the way the page reads its widgets (``write_scene`` then ``read_scene``), so it is
    the very scene, and cache key, of that page.
    """
    state: dict = {}
    write_scene(Scene(surface=surface), state, load_surface(surface))
    return read_scene(state).check()


def warm_default_races() -> None:
    """Draw every catalogue surface's default race once, after the pictures, never while a page is drawn.

    A class told "now pick Himmelblau" then switches at once to a race already in the
    cache (0.05 s of server time each) instead of the first of them computing it (up to
    0.5 s on the data surfaces) while the others queue behind.
    """
    images.start_catalogue_warming().join()
    first = Scene().surface
    for name in sorted(surfaces.CATALOGUE, key=lambda n: n != first):
        images.wait_for_idle()
        try:
            cached_view(default_scene(name))
        except Exception:  # noqa: BLE001 - warming is an optimisation; a failure shows up when used
            pass


@st.cache_resource(show_spinner=False)
def start_race_warming() -> threading.Thread:
    """Return the thread of ``warm_default_races``, started once per server process (the resource cache)."""
    warm = threading.Thread(target=warm_default_races, name="descent-warm-races", daemon=True)
    warm.start()
    return warm


# -- state helpers ------------------------------------------------------------------

def _query_dict() -> dict:
    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def _own_query() -> dict:
    """Return the URL's query without the MLP page's keys: nothing of an MLP experiment's link."""
    return scene_query(_query_dict())


def _surface_title(name: str) -> str:
    return "Custom formula..." if name == CUSTOM else surfaces.CATALOGUE[name].title


def _show_window(surf) -> None:
    """Put the surface's own window into the window controls."""
    (x0, x1), (y0, y1) = surf.window
    st.session_state.update(win_x0=float(x0), win_x1=float(x1), win_y0=float(y0), win_y1=float(y1))


def _show_start(surf) -> None:
    """Put the surface's own suggested start into the start controls."""
    st.session_state.update(start_x=float(surf.start[0]), start_y=float(surf.start[1]))


def _on_surface_change() -> None:
    """A new surface brings its own window and start point (a custom formula only once it parses)."""
    name = st.session_state["surface"]
    try:
        surf = load_surface(name, st.session_state.get("formula", "") if name == CUSTOM else "")
    except SceneError:
        return
    _show_window(surf)
    st.session_state["win_custom"] = False
    _show_start(surf)


def _on_formula_change() -> None:
    """A new formula brings its own window (unless the student's own window is on) and its own start.

    The previous surface's start may lie far off the new formula's map (Rastrigin's
    start is no place for 1/(x^2+y^2)), so the start always moves to the formula's
    suggestion, or to the middle of the student's own window when that lies outside it.
    """
    st.session_state["formula"] = st.session_state["formula_text"]
    try:
        surf = load_surface(CUSTOM, st.session_state["formula"])
    except SceneError:
        return
    ss = st.session_state
    if not ss.get("win_custom"):
        _show_window(surf)
        _show_start(surf)
        return
    (x0, x1), (y0, y1) = (ss["win_x0"], ss["win_x1"]), (ss["win_y0"], ss["win_y1"])
    sx, sy = surf.start
    if not (x0 <= sx <= x1 and y0 <= sy <= y1):
        sx, sy = (x0 + x1) / 2, (y0 + y1) / 2
    ss.update(start_x=float(sx), start_y=float(sy))


PRESET_KEY = "preset"  # the URL key naming the preset whose title and lesson a link shows
#: URL keys that are not part of the scene itself
VIEW_KEYS = (PRESET_KEY, "present")


def load_scene_into_state(scene: Scene) -> None:
    """Show ``scene`` in every control (used by links and presets)."""
    write_scene(scene, st.session_state, load_surface(scene.surface, scene.formula))


def _is_preset(name: str | None, scene: Scene) -> bool:
    """Return True when ``scene`` draws exactly preset ``name``'s race (a preset without a start uses the surface's)."""
    if name not in presets.presets():
        return False
    preset = presets.get(name)
    if preset.start is None:
        preset = replace(preset, start=tuple(map(float, main_start(preset, load_surface(preset.surface, preset.formula)))))
    return preset.same_picture(scene)


def _scene_from_link(query: dict) -> tuple[Scene, str | None, list[str]]:
    """Return (scene, preset name or None, notes on ignored parts) for a link's query parameters.

    ``preset=ravine`` alone opens that preset; beside a scene it names the preset
    the scene came from, whose title and lesson are shown only while the scene
    still is the preset's (an edited copy shows the surface's own caption).
    """
    name = _last(query.get(PRESET_KEY))
    notes = []
    if name is not None and name not in presets.presets():
        notes.append(f"ignored preset={str(name)[:40]!r} from the link: no such preset")
        name = None
    scene_keys = [k for k in query if k not in VIEW_KEYS]
    if name is not None and not scene_keys:
        return presets.get(name), name, notes
    scene, more = Scene.from_query(query) if scene_keys else (Scene(), [])
    return scene, (name if _is_preset(name, scene) else None), notes + more


def _last(values):
    """Return the last of a query parameter's values (a repeated key keeps its last), or None."""
    if isinstance(values, (list, tuple)):
        return values[-1] if values else None
    return values


def _open_link(query: dict) -> Scene:
    """Show the scene of ``query`` in every control, with its preset and presenter mode; return that scene."""
    scene, name, notes = _scene_from_link(query)
    # checked is not drawn: a link's scene may still fail in the race or its pictures
    scene, more = drawable(scene, _draw)
    notes = notes + more
    load_scene_into_state(scene)
    ss = st.session_state
    ss[PRESET_KEY] = name
    ss["link_notes"] = notes
    ss["presenter"] = _last(query.get("present")) == "1"
    return scene


#: session-state key of an MLP experiment's link opened on this page, kept to offer it to the MLP page
FOREIGN_LINK_KEY = "_mlp_link"


def _init_state() -> None:
    if "r_ids" in st.session_state:
        return
    query, own = _query_dict(), _own_query()
    if not own and query.keys() & (EXPERIMENT_KEYS - SCENE_KEYS):
        st.session_state[FOREIGN_LINK_KEY] = {k: query[k] for k in query.keys() & EXPERIMENT_KEYS}
    st.session_state["last_good"] = _open_link(own)


def _widgets_fingerprint() -> tuple:
    """Return what the controls show: the scene (or the unreadable start text), the preset, presenter mode."""
    ss = st.session_state
    try:
        scene = read_scene(ss)
    except ValueError:
        scene = ("unreadable starts", ss.get("more_starts"))
    return scene, ss.get(PRESET_KEY), bool(ss.get("presenter"))


def _follow_history() -> None:
    """Show the URL's scene when the browser's Back or Forward button changed the URL.

    Streamlit makes each URL the page writes (``st.query_params``) a new browser
    history entry and, on Back or Forward, reruns the page with that entry's URL.
    That URL then differs from the one written last while the controls are as
    they were after the last run. A control changed meanwhile wins: its rerun
    may carry the previous URL if the click raced the new one. Only the scene's
    own keys count: the MLP page's link (its Back step, or a query kept across
    a page switch) is no scene.
    """
    written = st.session_state.get("_url_written")
    query = _flat(_own_query())
    if written is None or not query or query == written[0] or _widgets_fingerprint() != written[1]:
        return
    _open_link(_own_query())


def _forget_edited_preset() -> None:
    """Clear the preset choice once the controls no longer show its scene, so that choosing it again restores it."""
    ss = st.session_state
    name = ss.get(PRESET_KEY)
    if name is None:
        return
    try:
        same = _is_preset(name, read_scene(ss))
    except ValueError:
        same = False
    if not same:
        ss[PRESET_KEY] = None


# -- controls -----------------------------------------------------------------------

def _on_preset() -> None:
    name = st.session_state.get(PRESET_KEY)
    if name:
        load_scene_into_state(presets.get(name))


def _controls() -> None:
    _preset_controls()
    st.sidebar.header("Scene")
    _surface_controls()
    _window_controls()
    st.sidebar.toggle("Equal scale on both axes", key="equal",
                      help="one unit is as long on x as on y, so a round bowl looks round; "
                           "used when the window is at most 3 times wider than tall or taller than wide")
    _start_and_run_controls()
    instruments.insides_toggle()
    st.sidebar.header("Optimizers")
    racer_controls("r", LIMITS["racers"][1])


def _preset_controls() -> None:
    sb = st.sidebar
    sb.toggle("Presenter mode", key="presenter",
              help="hide the controls, enlarge the plot and fonts; keys: space play/pause, ← → step, Home restart")
    if not st.session_state.get("presenter"):  # in presenter mode the selector sits in the page's header
        _preset_selector(sb)


def _preset_selector(where, **kwargs) -> None:
    where.selectbox("Preset", [None, *presets.presets()], key=PRESET_KEY, on_change=_on_preset,
                    placeholder="Choose a lesson...",
                    format_func=lambda n: "Choose a lesson..." if n is None else presets.presets()[n].title,
                    help="a prepared scene with a one-line lesson; once you change the scene, choosing it again "
                         "restores it", **kwargs)


def _surface_controls() -> None:
    sb = st.sidebar
    sb.selectbox("Surface", [*surfaces.CATALOGUE, CUSTOM], key="surface", format_func=_surface_title,
                 on_change=_on_surface_change)
    if st.session_state["surface"] == CUSTOM:
        st.session_state.setdefault("formula_text", st.session_state.get("formula", ""))
        sb.text_input("Formula in x and y", key="formula_text", on_change=_on_formula_change,
                      placeholder="(1-x)^2 + 100(y-x^2)^2", max_chars=LIMITS["formula_chars"][1],
                      help="Numbers, x, y, pi, e, + - * / ^, parentheses and sin cos tan exp log sqrt abs tanh ...")


def _use_own_window() -> None:
    st.session_state["win_custom"] = True


def _window_controls() -> None:
    with st.sidebar.expander("View window"):
        # The switch comes first; editing an edge turns it on, so an edit always shows.
        st.checkbox("use my own window", key="win_custom",
                    help="off: the surface's own window; editing any edge below turns this on")
        sb_cols = st.columns(2)
        for col, key, label in ((0, "win_x0", "x min"), (1, "win_x1", "x max"), (0, "win_y0", "y min"),
                                (1, "win_y1", "y max")):
            sb_cols[col].number_input(label, key=key, format="%g", step=0.5, on_change=_use_own_window)


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
    """Draw each distinct racer's update rule, its values, its schedule and its optimizer's note (each note once)."""
    seen, notes_shown = set(), set()
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
        if cls.note and cls.note not in notes_shown:
            notes_shown.add(cls.note)
            st.info(cls.note, icon=":material/info:")
    instruments.instruments(scene, instruments.race_with_insides(scene, cached_race))


PAGE_CSS = (Path(__file__).parent / "static" / "page.css").read_text()
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
    _follow_history()
    _forget_edited_preset()
    _controls()
    presenter = bool(st.session_state.get("presenter"))
    st.html(f"<style>{PAGE_CSS}{PRESENTER_CSS if presenter else ''}</style>")
    for note in st.session_state.pop("link_notes", []):
        _link_note(note)
    _offer_foreign_link()
    scene, view, rows = _scene_to_show()
    surf = load_surface(scene.surface, scene.formula)
    _heading(scene, surf, presenter)
    click = race_view(view.with_run(title="", presenter=presenter, probe=_probe_view(scene, surf)),
                      key="view_race", height=720 if presenter else 620, on_insides=instruments.ask_insides)
    if click is not None:
        if click.probe:  # Shift/Alt+click: a point to read the curvature at, the start stays
            st.session_state[PROBE_KEY] = {"where": _probe_where(scene, surf), "xy": (click[0], click[1])}
        else:
            st.session_state["_pending_start"] = (click[0], click[1])
        st.rerun()
    _keep_url(scene, presenter)
    if not presenter:
        _tabs(scene, surf, rows)


def _probe_where(scene: Scene, surf) -> tuple:
    """Return what a probe point belongs to: the surface (and formula) and the window it was clicked in."""
    return (scene.surface, scene.formula, window_of(scene, surf))


def _probe_view(scene: Scene, surf) -> dict | None:
    """Return the payload's probe for the Shift+clicked point of this surface and window, else None (and forget it)."""
    kept = st.session_state.get(PROBE_KEY)
    if kept is None:
        return None
    if kept["where"] != _probe_where(scene, surf):  # another surface or window: the point means nothing there
        del st.session_state[PROBE_KEY]
        return None
    return probe(scene, surf, kept["xy"])


def _take_map_click() -> None:
    """Move the start to where the map was clicked in the previous run (before the start widgets exist)."""
    pending = st.session_state.pop("_pending_start", None)
    if pending is not None:
        st.session_state["start_x"], st.session_state["start_y"] = float(pending[0]), float(pending[1])


def _scene_to_show() -> tuple[Scene, EncodedPayload, list[dict]]:
    """Return (scene, payload, results rows) of the widgets' scene, or of the last good one with the reason shown."""
    scene = _widgets_scene()
    if scene is not None:
        _outcome_first(scene)
        try:
            view, rows = cached_view(scene)
        except Exception as e:  # noqa: BLE001 - whatever failed, the page keeps the last scene that drew
            st.error(f"{as_text(student_message(e))}. Showing the last scene that worked.", icon="⚠️")
        else:
            st.session_state["last_good"] = scene
            return scene, view, rows
    scene = st.session_state["last_good"]
    view, rows = cached_view(scene)  # it drew before: from the cache, or drawn again the same way
    return scene, view, rows


def _outcome_first(scene: Scene) -> None:
    """Compute the outcome map under the race, if the scene has one, under a progress bar; the payload then finds it cached.

    Without the compiled engine (the data surfaces) a map takes seconds. The bar is made
    here, outside the cached payload (``st.cache_data`` would replay it on every hit), and
    only once the map is computed, not when it comes from the cache.
    """
    if scene.overlay is None:
        return
    spot = st.empty()
    bar = None

    def report(share: float) -> None:
        nonlocal bar
        text = (f"Drawing {as_text(scene.racers[scene.overlay].label())}'s outcome map under the race: "
                f"{n} x {n} starts, {scene.steps} steps each")
        bar = bar or spot.progress(0.0, text=text)
        bar.progress(min(1.0, share), text=text)

    try:
        surf = load_surface(scene.surface, scene.formula)
        n = outcome.map_size(surf)
        with outcome.reporting_to(report):
            outcome.racer_map(scene, scene.overlay, n)
    except Exception:  # noqa: BLE001 - the payload computes it again and the page says what went wrong
        pass
    finally:
        spot.empty()


def _draw(scene: Scene) -> tuple[EncodedPayload, list[dict]]:
    """Return (payload, results rows) of ``scene`` once it is checked; raise whatever checking or drawing raises."""
    return cached_view(scene.check())


def _widgets_scene() -> Scene | None:
    """Return the checked scene the controls show, or None after saying why it cannot be drawn (yet)."""
    try:
        scene = read_scene(st.session_state)
        if scene.surface == CUSTOM:
            if not scene.formula.strip():  # just chose "Custom formula...": nothing typed yet is no mistake
                st.info("Type a formula in x and y in the sidebar; until then the map shows the last scene.",
                        icon=":material/edit:")
                return None
            surfaces.load(CUSTOM, scene.formula)  # a FormulaError keeps its column for the caret
        return scene.check()
    except surfaces.FormulaError as e:
        _formula_error(e)
    except ValueError as e:  # SceneError, or a start point that does not read
        st.error(f"{as_text(e)}. Showing the last scene that worked.", icon="⚠️")
    return None


def _offer_foreign_link() -> None:
    """Say, once, that the link opened holds an MLP experiment, with a link that opens it on the MLP page."""
    query = st.session_state.pop(FOREIGN_LINK_KEY, None)
    if query:
        st.info("This link holds a network training (the MLP classifier page's experiment), not a loss surface: "
                "the surfaces page shows its default scene.", icon=":material/link:")
        st.page_link("views/mlp.py", label="Open the experiment on the MLP classifier page", icon=":material/hub:",
                     query_params=query)


def _link_note(note: str) -> None:
    """Show what a link's part was ignored for; a formula's echo and caret (the lines after the first) in a code block."""
    head, _, block = note.partition("\n")
    st.warning(as_text(head), icon=":material/link_off:")
    if block.strip():
        st.code(textwrap.dedent(block), language=None)


def _formula_error(e: surfaces.FormulaError) -> None:
    """Show why a formula is refused, with the formula as typed and a caret under the offending character."""
    st.error(f"The formula cannot be used: {as_text(e.reason)}. Showing the last scene that worked.", icon="⚠️")
    if e.text is not None and e.column is not None:
        # A monospace block, so the caret lines up; st.code shows its text as is, never as Markdown.
        st.code(f"{e.text}\n{' ' * (e.column - 1)}^", language=None)


def _heading(scene: Scene, surf, presenter: bool = False) -> None:
    """Draw the title, formula and lesson (the preset's while the scene still is the preset's) and the colour bar.

    In presenter mode the title shares one row with the preset selector and
    the Leave button, so the animator below it keeps most of the screen.
    """
    name = st.session_state.get(PRESET_KEY)
    preset = presets.get(name) if _is_preset(name, scene) else None
    # A custom surface's title is the formula as typed: text, not Markdown.
    title = preset.title if preset else as_text(surf.title) if scene.surface == CUSTOM else surf.title
    if presenter:
        c_title, c_preset, c_leave = st.columns([4.5, 3, 2], vertical_alignment="center")
        c_title.markdown(f"### {title}")
        _preset_selector(c_preset, label_visibility="collapsed")
        c_leave.button("Leave presenter mode", key="act_leave_presenter", on_click=_exit_presenter, width="stretch")
    else:
        st.markdown(f"### {title}")
    lesson = preset.lesson if preset else getattr(surf, "lesson", "")
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    c1.caption(f"${surf.latex}$" + (f" — {lesson}" if lesson else ""))
    spec = surface_images(scene.surface, scene.formula, window_of(scene, surf), scene.equal)[1]
    c2.html(colorbar_html(spec))
    if scene.overlay is not None:
        # The bar keeps describing the surface, which the overlay's slider blends in and out.
        c2.caption(f"Under the race: {as_text(scene.racers[scene.overlay].label())}'s outcome map (its key is under "
                   "the race); this bar is the surface's loss.")


def _link_query(scene: Scene, presenter: bool = False) -> dict:
    """Return the URL query parameters of ``scene``, naming its preset while it is one, and presenter mode."""
    query = scene.to_query()
    name = st.session_state.get(PRESET_KEY)
    if _is_preset(name, scene):
        query[PRESET_KEY] = name
    if presenter:
        query["present"] = "1"
    return query


def _keep_url(scene: Scene, presenter: bool) -> None:
    """Write the scene into the page's URL, so the address bar is always a link to what is shown.

    Each new URL becomes a browser history entry, so Back steps back through the
    scenes (``_follow_history``). The preset's name goes along while the scene is
    the preset's, so a shared link shows its title and lesson.
    """
    query = _link_query(scene, presenter)
    if query != _query_dict_flat():
        st.query_params.from_dict(query)
    st.session_state["_url_written"] = (query, _widgets_fingerprint())


def _tabs(scene: Scene, surf, rows: list[dict]) -> None:
    """Draw the results, update rules, share and compare tabs; only the open one runs (the 3-D view is the animator's)."""
    tab_results, tab_rules, tab_share, tab_compare = st.tabs(
        ["Results", "Update rules", "Share & export", "Compare fairly"], key="tab", on_change="rerun")
    for tab, draw in ((tab_results, lambda: _results(scene, surf, rows)), (tab_rules, lambda: _rules(scene)),
                      (tab_share, lambda: _share(scene)), (tab_compare, lambda: page_compare.render(scene))):
        # Lazy tabs: the exports and the sweeps cost nothing until asked for.
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
    note = overlap_note(scene.racers)
    if note:
        st.info(note, icon=":material/info:")


def _share(scene: Scene) -> None:
    base = (st.context.url or "").split("?")[0]
    st.markdown("**Link to exactly this scene** (copy it with the button at the right of the box):")
    st.code(f"{base}?{urlencode(_link_query(scene), doseq=True)}", language=None)
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
        bar = col.progress(0.0, text="starting...")

        def waiting() -> None:
            bar.progress(0.0, text="Another export is being prepared; yours starts when it ends.")

        # One export at a time per server (export.EXPORT_SLOTS). One per session comes from Streamlit:
        # a second click reruns the script, whose next progress call ends this export and frees its slot.
        with export.export_slot(waiting):
            data = export.animation_bytes(
                race, fmt, 120, progress=lambda f: bar.progress(f, text="drawing and encoding frames..."))
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
    return _flat(_query_dict())


def _flat(query: dict) -> dict:
    """Return a query's last value of each key, the racers' whole list (the form ``Scene.to_query`` writes)."""
    return {k: (v if k == "r" else v[-1]) for k, v in query.items()}
