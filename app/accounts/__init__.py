"""Accounts: who may log in, their server-side sessions and the login throttle."""
