"""Reading a file a user points at (the config file, a SCIM token file): capped in size, UTF-8, every failure one
UsageError that names the file and the fix, and never the file's content (it may be a secret)."""
from __future__ import annotations

from pathlib import Path

from .errors import UsageError


def read_capped_text(path: Path, cap: int, *, what: str, fix: str) -> str:
    """At most `cap` bytes of UTF-8 text (`/dev/zero` must not fill memory); `what` names the file in messages."""
    try:
        if path.is_dir():
            raise UsageError(f"{what} {path} is a directory", fix=fix)
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror or type(e).__name__}", fix=fix) from None
    if len(data) > cap:
        size = f"{cap // (1024 * 1024)} MiB" if cap >= 1024 * 1024 else f"{cap // 1024} KiB"
        raise UsageError(f"{what} {path} is larger than {size}", fix=fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{what} {path} is not text (binary or not UTF-8 at byte {e.start})", fix=fix) from None
