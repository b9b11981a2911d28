"""Attune's domain: instrument, storage, scoring and reporting (never imports streamlit)."""
