"""Entry point for gunicorn and the `flask` command (FLASK_APP=wsgi.py)."""

from app import create_app

app = create_app()
