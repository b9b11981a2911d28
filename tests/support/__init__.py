"""Helpers shared by test modules: imported from here, never from another test module."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
