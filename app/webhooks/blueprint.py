"""The /webhooks blueprint: calls from outside services, authenticated by their signatures instead of a session."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
