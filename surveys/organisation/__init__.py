"""The organisation's reference data: its structure, its survey cycles and its instruments."""
