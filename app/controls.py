"""Racer controls for both pages, generated from the declarations in ``optim``, and their widget values.

No optimizer or hyperparameter is listed here. A racer's widgets are keyed
``{prefix}{i}_{what}`` (prefix "r" on the surfaces panel, "m" on the MLP
panel); ``read_racer`` and ``write_racers`` map those values to and from a Racer.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import streamlit as st

from optim import OPTIMIZERS, OVERLAP_NOTE, SCHEDULES, Hyperparameter

from .racer import PALETTE, Racer, color_of


def racer_key(i: int, what: str, prefix: str = "r") -> str:
    """Return the widget key of racer ``i``'s field ``what`` (prefix "r" on the surfaces panel, "m" on the MLP panel)."""
    return f"{prefix}{i}_{what}"


def read_racer(i: int, state: MutableMapping[str, Any], prefix: str = "r") -> Racer:
    """Return racer ``i`` as its widgets show it; only the hyperparameters of its optimizer are read."""
    name = state[racer_key(i, "opt", prefix)]
    hp = tuple((h.name, state.get(racer_key(i, h.name, prefix), h.default)) for h in OPTIMIZERS[name].hyperparameters)
    sched = state.get(racer_key(i, "sched", prefix), "constant")
    shp = tuple((h.name, state.get(racer_key(i, "s_" + h.name, prefix), h.default))
                for h in SCHEDULES[sched].hyperparameters)
    return Racer(name, hp, sched, shp, str(state.get(racer_key(i, "color", prefix), "")).upper())


def write_racers(racers, state: MutableMapping[str, Any], prefix: str = "r") -> None:
    """Set the widgets of a list of racers, replacing whatever racers the page showed."""
    for k in [k for k in state if isinstance(k, str) and k.startswith(prefix) and "_" in k
              and k[len(prefix):k.index("_")].isdigit()]:
        del state[k]
    ids = list(range(len(racers)))
    state[f"{prefix}_ids"] = ids
    state[f"{prefix}_next"] = len(ids)
    for i, r in zip(ids, racers):
        state[racer_key(i, "opt", prefix)] = r.optimizer
        state[racer_key(i, "color", prefix)] = color_of(r, i)
        vals = r.values()
        for h in OPTIMIZERS[r.optimizer].hyperparameters:
            state[racer_key(i, h.name, prefix)] = h.kind(vals[h.name])
        state[racer_key(i, "sched", prefix)] = r.schedule
        given = dict(r.schedule_hp)
        for h in SCHEDULES[r.schedule].hyperparameters:
            state[racer_key(i, "s_" + h.name, prefix)] = h.kind(given.get(h.name, h.default))



def overlap_note(racers) -> str:
    """Return ``optim.OVERLAP_NOTE`` when SGD and moving-average momentum race at the same learning rate, else "".

    Their curves then lie almost on top of each other and students conclude that
    momentum does nothing; the note says why (and what the heavy-ball form does).
    """
    def rates(name):
        return {(r.values()["lr"], r.schedule, r.schedule_hp) for r in racers if r.optimizer == name}
    return OVERLAP_NOTE if rates("sgd") & rates("momentum") else ""


def _on_type_change(prefix: str, i: int) -> None:
    """Give racer ``i`` the new optimizer's default settings and keep its panel open.

    Two optimizers may share a setting's name (Adam's and Lion's ``beta2``) with
    different defaults (0.999 and 0.99); keeping the old value would race Lion
    with Adam's settings.
    """
    ss = st.session_state
    for h in OPTIMIZERS[ss[racer_key(i, "opt", prefix)]].hyperparameters:
        ss[racer_key(i, h.name, prefix)] = h.default
    ss[racer_key(i, "panel", prefix)] = True


def _step(h: Hyperparameter, value: float) -> float:
    if h.log:
        return float(f"{max(abs(value), 1e-12) / 10:.1g}")
    return 0.01 if (h.high is not None and h.high <= 1) else 0.1


def hyper_control(h: Hyperparameter, key: str, where=st) -> None:
    """Draw the control for one declared hyperparameter; its value lands in ``st.session_state[key]``."""
    label = h.label or h.name
    help_text = f"{h.doc[0].upper() + h.doc[1:]}. Valid range {h.range_text()}, default {h.default}."
    if key not in st.session_state:
        st.session_state[key] = h.default
    if h.kind is bool:
        where.checkbox(label, key=key, help=help_text)
    elif h.kind is int:
        where.number_input(label, key=key, step=1, help=help_text)
    else:
        # No bounds on the control: a value out of range gets the library's message, which says
        # why it is refused ("lr must be > 0, got -1"), instead of a silent clamp.
        where.number_input(label, key=key, format="%g", step=_step(h, float(st.session_state[key])),
                           help=help_text)


def _add_racer(prefix: str) -> None:
    ss = st.session_state
    i = ss[f"{prefix}_next"]
    ss[f"{prefix}_next"] = i + 1
    used = {ss.get(racer_key(j, "color", prefix)) for j in ss[f"{prefix}_ids"]}
    ss[f"{prefix}_ids"] = [*ss[f"{prefix}_ids"], i]
    ss[racer_key(i, "opt", prefix)] = "adam"
    ss[racer_key(i, "color", prefix)] = next((c for c in PALETTE if c not in used), PALETTE[0])


def _remove_racer(prefix: str, i: int) -> None:
    st.session_state[f"{prefix}_ids"] = [j for j in st.session_state[f"{prefix}_ids"] if j != i]


def racer_controls(prefix: str, max_racers: int) -> None:
    """Draw, in the sidebar, one expander per optimizer with controls built from its declarations."""
    ids = st.session_state[f"{prefix}_ids"]
    for n, i in enumerate(ids):
        opt_key = racer_key(i, "opt", prefix)
        st.session_state.setdefault(opt_key, "adam")
        cls = OPTIMIZERS[st.session_state[opt_key]]
        # The panel's open state is kept on the server ("rerun"), so a panel whose title changes with
        # its optimizer's type stays open (the browser would otherwise draw a new, closed one).
        panel_key = racer_key(i, "panel", prefix)
        st.session_state.setdefault(panel_key, len(ids) <= 2)
        with st.sidebar.expander(f"{n + 1}. {cls.title}", key=panel_key, on_change="rerun"):
            c1, c2, c3 = st.columns([5, 2, 2], vertical_alignment="bottom")
            c1.selectbox("optimizer", list(OPTIMIZERS), key=opt_key, format_func=lambda k: OPTIMIZERS[k].title,
                         on_change=_on_type_change, args=(prefix, i), help="changing it restores the new "
                         "optimizer's default settings")
            c2.color_picker("colour", key=racer_key(i, "color", prefix))
            c3.button(":material/close:", key=f"act_{racer_key(i, 'remove', prefix)}", on_click=_remove_racer, args=(prefix, i),
                      help="remove this optimizer", disabled=len(ids) <= 1)
            cls = OPTIMIZERS[st.session_state[opt_key]]
            cols = st.columns(2)
            for k, h in enumerate(cls.hyperparameters):
                hyper_control(h, racer_key(i, h.name, prefix), cols[k % 2])
            sched_key = racer_key(i, "sched", prefix)
            st.session_state.setdefault(sched_key, "constant")
            st.selectbox("learning-rate schedule", list(SCHEDULES), key=sched_key,
                         format_func=lambda k: SCHEDULES[k].title)
            scols = st.columns(2)
            for k, h in enumerate(SCHEDULES[st.session_state[sched_key]].hyperparameters):
                hyper_control(h, racer_key(i, "s_" + h.name, prefix), scols[k % 2])
    st.sidebar.button("Add an optimizer", icon=":material/add:", key=f"act_{prefix}_add", on_click=_add_racer, args=(prefix,),
                      disabled=len(ids) >= max_racers)
