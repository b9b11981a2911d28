"""Fixtures for AppTest: Streamlit's caches emptied around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def _empty_streamlit_caches() -> Iterator[None]:
    """Cached engines and queries outlive an AppTest; a test must not see another's database."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
