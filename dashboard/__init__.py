"""Attune's Streamlit pages (the UI; all logic lives in surveys/)."""

from pathlib import Path

# The browser icon, served by the app itself: a Material icon would be fetched from Google.
PAGE_ICON = str(Path(__file__).resolve().parent / "assets" / "icon.png")
