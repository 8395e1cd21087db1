"""Descent: see how neural-network optimizers behave. Run with ``streamlit run app/streamlit_app.py``."""

import sys
from pathlib import Path

# Streamlit puts this file's folder on sys.path, not the project root that holds optim/ and surfaces/.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app.images import start_catalogue_warming  # noqa: E402
from app.page_compare import start_engine_warming  # noqa: E402
from app.page_surfaces import start_race_warming  # noqa: E402
from app.state import keep_widget_values  # noqa: E402

# The favicon is a file served by this server: a Material icon here would be fetched from a font CDN,
# which fails offline (a lecture hall often is).
FAVICON = str(Path(__file__).parent / "static" / "favicon.png")
st.set_page_config(page_title="Descent: optimizers racing", page_icon=FAVICON, layout="wide")
start_catalogue_warming()  # once per server process: the catalogue's pictures are drawn while the server idles
start_race_warming()  # then each catalogue surface's default race, also while the server idles
start_engine_warming()  # with DESCENT_WARM_ENGINE=1, once per server process: the shared compiled kernels
keep_widget_values(st.session_state)

nav = st.navigation([
    st.Page("views/surfaces.py", title="Loss surfaces", icon=":material/landscape:", url_path="surfaces", default=True),
    st.Page("views/mlp.py", title="MLP classifier", icon=":material/hub:", url_path="mlp"),
])
st.title("Descent: how optimizers find their way down")
nav.run()
