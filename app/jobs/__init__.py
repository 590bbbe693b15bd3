"""Background work: RQ job functions (they take ids and are safe to run twice), enqueueing, after-commit hooks."""
