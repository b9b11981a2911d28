"""Administration: accounts for administrators and managers, and the departments managers see."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, resources
from surveys.access import accounts
from surveys.access.passwords import PASSWORD_MIN_LENGTH
from surveys.organisation import structure

account = auth.require_admin()
actor = account.username

st.title("Accounts")
st.caption(
    "Administrators run everything; managers see results for their own departments only. "
    "People who sign in through single sign-on get their role from the role map and appear "
    "here after their first sign-in. Staff who answer the survey never have accounts."
)
auth.show_flash()

engine = resources.engine()
listed = accounts.list_accounts(engine=engine)
department_names = [d.name for d in structure.list_departments(engine=engine)]
by_name = {row.username: row for row in listed}

st.dataframe(
    pd.DataFrame(
        {
            "Username": [row.username for row in listed],
            "Name": [row.display_name for row in listed],
            "Role": [row.role.title() for row in listed],
            "Departments": [
                "All" if row.role == "admin" else ", ".join(row.departments) for row in listed
            ],
            "Signs in with": [row.sign_in for row in listed],
            "Status": [
                ("Active" if row.active else "Disabled") + (", locked" if row.locked else "")
                for row in listed
            ],
        }
    ),
    hide_index=True,
    width="stretch",
)

add, edit = st.columns(2, gap="large")
add.subheader("Add an account")
with add, st.form("new_account_form", clear_on_submit=True):
    username = st.text_input("Username", key="new_account_username", autocomplete="off")
    display_name = st.text_input("Name (optional)", key="new_account_name")
    role = st.segmented_control(
        "Role",
        options=["manager", "admin"],
        default="manager",
        key="new_account_role",
        format_func=str.title,
    )
    departments = st.multiselect(
        "Departments (managers)", options=department_names, key="new_account_departments"
    )
    password = st.text_input(
        "Password",
        type="password",
        key="new_account_password",
        autocomplete="new-password",
        help=f"At least {PASSWORD_MIN_LENGTH} characters. Give it to the person "
        "privately; they cannot change it themselves yet.",
    )
    confirm = st.text_input(
        "Password again", type="password", key="new_account_confirm", autocomplete="new-password"
    )
    if st.form_submit_button("Add account", key="new_account_submit", type="primary"):
        if password != confirm:
            st.error("The two passwords differ.")
        else:
            auth.apply(
                lambda: accounts.create_account(
                    engine=engine,
                    username=username,
                    role=role or "",
                    password=password,
                    departments=departments if role == "manager" else (),
                    display_name=display_name,
                    actor=actor,
                ),
                success="Account added.",
            )

with edit:
    st.subheader("Change an account")
    if listed:
        chosen = st.selectbox("Account", options=list(by_name), key="edit_account")
        row = by_name[chosen]
        if row.role == "manager":
            with st.form("account_departments_form"):
                scope = st.multiselect(
                    "Departments",
                    options=department_names,
                    default=[name for name in row.departments if name in department_names],
                    key=f"account_departments_{row.id}",
                )
                if st.form_submit_button("Save departments", key="account_departments_submit"):
                    auth.apply(
                        lambda: accounts.set_departments(
                            engine=engine, username=chosen, departments=scope, actor=actor
                        ),
                        success="Departments saved.",
                    )
        if row.sign_in == "password":
            with st.form("account_password_form", clear_on_submit=True):
                new_password = st.text_input(
                    "New password",
                    type="password",
                    key="account_password",
                    autocomplete="new-password",
                )
                if st.form_submit_button("Set password", key="account_password_submit"):
                    auth.apply(
                        lambda: accounts.set_password(
                            engine=engine, username=chosen, password=new_password, actor=actor
                        ),
                        success="Password set; any sign-in lock is lifted.",
                    )
        with st.container(horizontal=True):
            if row.locked and st.button(
                "Unlock", key="account_unlock", icon=":material/lock_open:"
            ):
                auth.apply(
                    lambda: accounts.unlock(engine=engine, username=chosen, actor=actor),
                    success="Account unlocked.",
                )
            active = not row.active
            if st.button(
                "Enable" if active else "Disable",
                key="account_active",
                icon=":material/check_circle:" if active else ":material/block:",
                disabled=chosen == account.username,
                help="You cannot disable yourself." if chosen == account.username else None,
            ):
                auth.apply(
                    lambda: accounts.set_active(
                        engine=engine, username=chosen, active=active, actor=actor
                    ),
                    success="Account enabled." if active else "Account disabled.",
                )
