"""The organisation's reference data: its structure, its survey cycles and its instruments."""

# surveys/accounts.py (being split on another branch) imports these from here; once it
# imports them from surveys.organisation.structure, this package exports nothing.
from surveys.organisation.structure import OrganisationError, department_ids_by_name

__all__ = ["OrganisationError", "department_ids_by_name"]
