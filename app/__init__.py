"""Descent's Streamlit app: pages, plotting, the browser animator and the command line."""
