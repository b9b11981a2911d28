"""Single sign-on: the role map decides who gets in, as what, and never takes over a password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from surveys.access.accounts import create_account, set_active
from surveys.access.sso import RoleMap, RoleMapError, role_map, sso_sign_in
from surveys.config import get_settings
from surveys.models import Account
from surveys.storage import read_session
from tests.support.accounts import NOW, PASSWORD
from tests.support.backends import backends

pytestmark = pytest.mark.usefixtures("fast_hashing")

ROLE_MAP = RoleMap.model_validate(
    {
        "groups_claim": "groups",
        "rule": [
            {"role": "admin", "groups": ["attune-admins"]},
            {"role": "manager", "emails": ["Lead@Example.org"], "departments": ["Oncology"]},
            {"role": "manager", "groups": ["ed-managers"], "departments": ["Emergency"]},
        ],
    }
)


@backends()
@pytest.mark.parametrize(
    ("claims", "role", "departments"),
    [
        ({"email": "a@example.org", "groups": ["attune-admins", "ed-managers"]}, "admin", None),
        (
            {"email": "lead@example.org", "groups": "ed-managers"},
            "manager",
            {"Oncology", "Emergency"},
        ),
        ({"email": "lead@example.org", "email_verified": True}, "manager", {"Oncology"}),
        ({"email": "b@example.org", "groups": ["staff"]}, None, None),
        ({"email": "lead@example.org", "email_verified": False}, None, None),
        ({"groups": ["attune-admins"]}, None, None),
    ],
    ids=["admin group", "email and group", "email", "unknown", "unverified email", "no email"],
)
def test_single_sign_on_roles_come_from_the_role_map(
    engine: Engine,
    hospital,  # noqa: F811
    claims,
    role,
    departments,
) -> None:
    account = sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP, now=NOW)
    if role is None:
        assert account is None
        with read_session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Account)) == 2
        return
    assert account is not None and account.role == role
    assert account.username == claims["email"]
    if departments is None:
        assert account.department_ids is None
    else:
        assert account.department_ids == frozenset(hospital[name] for name in departments)


@backends()
@pytest.mark.usefixtures("hospital")
def test_single_sign_on_respects_disabling_and_never_takes_over_a_password_account(
    engine: Engine,
) -> None:
    claims = {"email": "a@example.org", "groups": ["attune-admins"]}
    assert sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP) is not None
    set_active(engine=engine, username="a@example.org", active=False, actor="boss")
    assert sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP) is None
    create_account(
        engine=engine, username="c@example.org", role="admin", password=PASSWORD, actor="x"
    )
    takeover = {"email": "c@example.org", "groups": ["attune-admins"]}
    assert sso_sign_in(engine=engine, claims=takeover, mapping=ROLE_MAP) is None


@backends()
@pytest.mark.usefixtures("hospital")
def test_single_sign_on_refuses_an_email_longer_than_any_address(engine: Engine) -> None:
    claims = {"email": "a" * 243 + "@example.org", "groups": ["attune-admins"]}  # 255 characters
    assert sso_sign_in(engine=engine, claims=claims, mapping=ROLE_MAP) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rule = [", "not valid TOML"),
        ('[[rule]]\nrole = "owner"\n', "rule.0.role"),
        ('[[rule]]\nrole = "admin"\nemail = ["a@b.org"]\n', "rule.0.email"),
        ('[[rule]]\nrole = "admin"\ngroups = "admins"\n', "rule.0.groups"),
    ],
)
def test_bad_role_maps_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(content)
    monkeypatch.setenv("ATTUNE_SSO_ROLE_MAP", str(path))
    get_settings.cache_clear()
    with pytest.raises(RoleMapError, match=message):
        role_map()


def test_role_map_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "roles.toml"
    path.write_text(
        'groups_claim = "roles"\n\n[[rule]]\nrole = "manager"\nemails = ["x@y.org"]\n'
        'departments = ["Emergency"]\n'
    )
    monkeypatch.setenv("ATTUNE_SSO_ROLE_MAP", str(path))
    get_settings.cache_clear()
    mapping = role_map()
    assert mapping.groups_claim == "roles"
    assert mapping.grant({"email": "X@y.org"}) == ("manager", ("Emergency",))
    assert mapping.grant({"email": "z@y.org", "roles": ["anything"]}) is None


def test_without_a_role_map_nobody_gets_in_through_sso() -> None:
    assert role_map().grant({"email": "a@b.org", "groups": ["admins"]}) is None
