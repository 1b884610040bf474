"""mkdocs hook: the site's footer names the natoma-entra version it documents (natoma_entra.__version__, the one
place the version lives; docs/dev/release.md)."""
from __future__ import annotations

from typing import Any


def on_config(config: Any) -> Any:
    from natoma_entra import __version__

    config.copyright = f"natoma-entra {__version__} · MIT licence"
    return config
