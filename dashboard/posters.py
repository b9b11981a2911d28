"""A link's QR code for a poster: shown on the page and offered as a PNG to print."""

from __future__ import annotations

import streamlit as st

from surveys.invitations import links


def qr_poster(url: str, *, what: str, file_name: str, key: str, width: int) -> None:
    """The QR code of `url` ("QR code of {what}, for a poster") and its download button."""
    poster = links.qr_code_png(url)
    st.image(poster, caption=f"QR code of {what}, for a poster", width=width)
    st.download_button(
        "Download the QR code (PNG)",
        data=poster,
        file_name=file_name,
        mime="image/png",
        on_click="ignore",
        icon=":material/qr_code:",
        key=key,
    )
