"""The three portals. Each package's __init__ declares its blueprint and the roles it admits."""

import importlib
import pkgutil


def load_sections(package_name: str, package_path) -> None:
    """Import every section module of a portal package so its routes register on the blueprint."""
    for module in pkgutil.iter_modules(package_path):
        importlib.import_module(f"{package_name}.{module.name}")
