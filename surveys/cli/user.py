"""`attune user`: accounts for administrators and managers."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from surveys.cli import actor as _actor
from surveys.cli import app, fail, open_engine

if TYPE_CHECKING:
    from sqlalchemy import Engine

user_app = typer.Typer(help="Accounts for administrators and managers.", no_args_is_help=True)
app.add_typer(user_app, name="user")

DepartmentsOption = Annotated[
    str,
    typer.Option(
        "--departments",
        help='Comma-separated department names a manager may see, e.g. "Emergency,Oncology".',
    ),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]


def _departments(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on standard input")
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _new_password(from_stdin: bool, *, username: str) -> str:
    """A password read as `_read_password` does, refused before anything is written if the
    policy does not allow it."""
    from surveys.access.passwords import AccountError, check_password

    password = _read_password(from_stdin)
    try:
        check_password(password, username=username)
    except AccountError as error:
        raise fail(str(error)) from None
    return password


def _engine() -> Engine:
    from surveys.storage import schema_is_current

    engine = open_engine()
    if not schema_is_current(engine):
        raise fail("the schema is not up to date; run `attune db upgrade` first")
    return engine


def _change(action: Callable[[Engine], object]) -> object:
    """Run `action(engine)` (one access function: one transaction), turning refusals into
    messages."""
    from surveys.access.passwords import AccountError

    try:
        return action(_engine())
    except AccountError as error:
        raise fail(str(error)) from None


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option("--role", help="admin or manager.")],
    departments: DepartmentsOption = "",
    display_name: Annotated[str, typer.Option("--name", help="Name shown in the app.")] = "",
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Add an account; the password is asked for twice (hidden) or read from stdin."""
    from surveys.access.accounts import create_account
    from surveys.access.passwords import AccountError, check_username

    names = _departments(departments)
    if role not in ("admin", "manager"):
        raise fail("--role must be admin or manager")
    if role == "manager" and not names:
        raise fail('a manager needs --departments, e.g. --departments "Emergency"')
    if role == "admin" and names:
        raise fail("administrators see every department; leave out --departments")
    try:
        check_username(username)
    except AccountError as error:
        raise fail(str(error)) from None
    password = _new_password(password_stdin, username=username)
    _change(
        lambda engine: create_account(
            engine=engine,
            username=username,
            role=role,
            password=password,
            departments=names,
            display_name=display_name,
            actor=_actor(),
        )
    )
    scope = f" for {', '.join(names)}" if names else ""
    typer.echo(f"Added {role} {username.strip().lower()}{scope}.")


@user_app.command("list")
def user_list() -> None:
    """List the accounts, their roles, departments and whether they are locked."""
    from surveys.access.accounts import list_accounts

    accounts = list_accounts(engine=_engine())
    if not accounts:
        typer.echo("No accounts yet. Add one with `attune user add NAME --role admin`.")
        return
    width = max(len(account.username) for account in accounts)
    for account in accounts:
        state = "active" if account.active else "disabled"
        if account.locked:
            state += ", locked"
        scope = "all departments" if account.role == "admin" else ", ".join(account.departments)
        typer.echo(
            f"{account.username:<{width}}  {account.role:<7}  {state:<16}  "
            f"{account.sign_in:<14}  {scope}"
        )


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Stop an account from signing in; its open sessions end at their next page load."""
    from surveys.access.accounts import set_active

    _change(
        lambda engine: set_active(engine=engine, username=username, active=False, actor=_actor())
    )
    typer.echo(f"Disabled {username.strip().lower()}.")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Let a disabled account sign in again."""
    from surveys.access.accounts import set_active

    _change(
        lambda engine: set_active(engine=engine, username=username, active=True, actor=_actor())
    )
    typer.echo(f"Enabled {username.strip().lower()}.")


@user_app.command("set-password")
def user_set_password(username: str, password_stdin: PasswordStdinOption = False) -> None:
    """Give an account a new password (also lifts a sign-in lock)."""
    from surveys.access.accounts import set_password

    password = _new_password(password_stdin, username=username)
    _change(
        lambda engine: set_password(
            engine=engine, username=username, password=password, actor=_actor()
        )
    )
    typer.echo(f"Password changed for {username.strip().lower()}.")


@user_app.command("set-departments")
def user_set_departments(username: str, departments: DepartmentsOption) -> None:
    """Replace the departments a manager may see."""
    from surveys.access.accounts import set_departments

    names = _departments(departments)
    _change(
        lambda engine: set_departments(
            engine=engine, username=username, departments=names, actor=_actor()
        )
    )
    typer.echo(f"{username.strip().lower()} now sees {', '.join(names)}.")


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Lift the lock that repeated failed sign-ins put on a username."""
    from surveys.access.accounts import unlock

    unlocked = _change(lambda engine: unlock(engine=engine, username=username, actor=_actor()))
    typer.echo(
        f"Unlocked {username.strip().lower()}."
        if unlocked
        else f"{username.strip().lower()} was not locked."
    )
