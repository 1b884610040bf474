"""Import every command module so each registers itself on the Typer app."""
from . import assign, credentials, doctor, logs, mapping, provision, roles, setup, start, status  # noqa: F401
from . import app_cmd, audit, docs_cmd, export, probe, teardown, version_cmd  # noqa: F401
from . import apply, show  # noqa: F401
