"""The append-only audit log: writing it and reading it."""
