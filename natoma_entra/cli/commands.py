"""Import every command module so each registers itself on the Typer app."""
from . import assign, credentials, mapping, roles, setup, start, status  # noqa: F401
