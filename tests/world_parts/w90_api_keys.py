"""An API key of the world's partner (created by its owner), for the key pages' revoke routes."""

from app.accounts import api_keys


def add(world) -> None:
    key, _secret = api_keys.create(world["users"]["cp"], "World key", ["leads:read"])
    world["ids"]["api_key"] = key.id
