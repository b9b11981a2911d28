"""Single sign-on: the role map (who gets which role) and signing in on a provider's say-so."""

from __future__ import annotations

import functools
import logging
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, or_, select
from sqlmodel import col

from surveys import audit
from surveys.access.accounts import (
    AccountInfo,
    _load_account,
    _set_departments,
)
from surveys.access.passwords import USERNAME_PATTERN
from surveys.clock import utc_now
from surveys.config import get_settings
from surveys.models import Account, AccountRole, Department
from surveys.storage import write_session
from surveys.text import EMAIL_MAX_LENGTH, hidden_characters, without_hidden_characters

_LOGGER = logging.getLogger(__name__)


class RoleMapError(ValueError):
    """The single sign-on role map cannot be used; the message names the file and problem."""


class _RoleRule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    role: Literal["admin", "manager"]
    emails: list[str] = []
    groups: list[str] = []
    departments: list[str] = []


class RoleMap(BaseModel):
    """Who gets which role through single sign-on (see the README for the file format)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    groups_claim: str = "groups"
    rules: list[_RoleRule] = Field(default=[], alias="rule")

    def grant(self, claims: Mapping[str, object]) -> tuple[str, tuple[str, ...]] | None:
        """The role and department names the claims earn, or None for no access.

        An administrator rule wins over manager rules; managers get the union of the
        departments of every rule they match.
        """
        email = claims.get("email")
        # An address the provider has not verified could belong to anyone.
        if claims.get("email_verified") is False or not isinstance(email, str):
            email = ""
        email = email.strip().lower()
        raw_groups = claims.get(self.groups_claim)
        if isinstance(raw_groups, str):
            groups = {raw_groups}
        elif isinstance(raw_groups, list | tuple):
            groups = {str(group) for group in raw_groups}
        else:
            groups = set()
        matched = [
            rule
            for rule in self.rules
            if (email and email in {address.lower() for address in rule.emails})
            or groups & set(rule.groups)
        ]
        if not matched:
            return None
        if any(rule.role == AccountRole.admin for rule in matched):
            return AccountRole.admin.value, ()
        departments: list[str] = []
        for rule in matched:
            departments += [name for name in rule.departments if name not in departments]
        return AccountRole.manager.value, tuple(departments)


@functools.lru_cache(maxsize=4)
def _load_role_map(path: Path, modified: float) -> RoleMap:
    del modified  # part of the cache key: an edited file is read again
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return RoleMap.model_validate(data)
    except OSError as error:
        raise RoleMapError(f"{path}: cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise RoleMapError(f"{path.name}: not valid TOML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RoleMapError(f"{path.name}: {where}: {first['msg']}") from None


def role_map() -> RoleMap:
    """The role map ATTUNE_SSO_ROLE_MAP names; without one, nobody gets in through SSO."""
    path = get_settings().sso_role_map
    if path is None:
        return RoleMap()
    try:
        modified = path.stat().st_mtime
    except OSError as error:
        raise RoleMapError(f"{path}: cannot be read: {error.strerror}") from None
    return _load_role_map(path, modified)


def sso_sign_in(
    *,
    engine: Engine,
    claims: Mapping[str, object],
    mapping: RoleMap,
    now: datetime | None = None,
) -> AccountInfo | None:
    """The account for someone the identity provider vouched for, or None for no access.

    The role map decides the role and departments at every sign-in. Attune keeps an account
    row (username = email, no password) so that the audit log names the person and
    `attune user disable` can shut them out whatever the identity provider says.
    """
    grant = mapping.grant(claims)
    email = str(claims.get("email") or "").strip().lower()
    if grant is None or not email or hidden_characters(email) or len(email) > EMAIL_MAX_LENGTH:
        return None
    role, department_names = grant
    with write_session(engine) as session:
        account = session.scalars(
            select(Account).where(or_(col(Account.email) == email, col(Account.username) == email))
        ).first()
        if account is not None and (account.password_hash or not account.active):
            # A password account is not taken over by an identity provider's say-so.
            return None
        known = {
            department.name.lower(): department.id
            for department in session.scalars(select(Department))
            if department.id is not None
        }
        department_ids = {known[name.lower()] for name in department_names if name.lower() in known}
        missing = [name for name in department_names if name.lower() not in known]
        if missing:
            _LOGGER.warning("SSO role map names unknown departments: %s", ", ".join(missing))
        if account is None:
            if not USERNAME_PATTERN.match(email[:120]):
                return None
            account = Account(
                username=email[:120],
                display_name=without_hidden_characters(str(claims.get("name") or ""))[:200],
                email=email,
                role=role,
                password_hash=None,
                active=True,
                created_at=now or utc_now(),
            )
            session.add(account)
            session.flush()
            audit.record(
                session=session, actor=email, action="account.create", detail="single sign-on"
            )
        account.role = role
        session.add(account)
        session.flush()
        assert account.id is not None
        _set_departments(session, account.id, department_ids if role != AccountRole.admin else ())
        audit.record(
            session=session, actor=account.username, action="sign_in", detail="single sign-on"
        )
        return _load_account(session, account.id)
