"""Start-up checks and logging."""

import logging


class ConfigurationError(RuntimeError):
    pass


def check_config(app) -> None:
    """Fail at start-up with a clear sentence instead of a traceback later."""
    cfg = app.config
    if cfg["CONFIG_NAME"] == "production":
        if cfg.get("SECRET_KEY") in (None, "", "dev-only-not-secret"):  # noqa: S105 (comparing, not storing)
            raise ConfigurationError("SECRET_KEY must be set to a long random value in production.")
        if not cfg.get("SQLALCHEMY_DATABASE_URI"):
            raise ConfigurationError("DATABASE_URL must be set in production.")
    if cfg["STORAGE_BACKEND"] == "s3" and not cfg.get("S3_BUCKET"):
        raise ConfigurationError("STORAGE_BACKEND=s3 needs S3_BUCKET.")


def register_logging(app) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
