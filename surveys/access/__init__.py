"""Accounts for administrators and managers: passwords, sign-in, session tickets and SSO."""
