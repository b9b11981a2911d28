"""Attune's Streamlit pages (the UI; all logic lives in surveys/)."""
