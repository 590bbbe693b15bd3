"""Rows of tests/api_access_table.py, one module per domain."""
