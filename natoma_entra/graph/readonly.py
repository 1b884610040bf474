"""What a read-only run may send: GETs, and the POST that changes nothing (the connection test,
synchronization-synchronizationjob-validatecredentials.md). `status`, `doctor`, `logs`, `audit` and every dry run use a GraphClient with read_only set, so
"writes nothing" is a property of the client, not of every step's care."""
from __future__ import annotations

import re

READ_ONLY_POSTS = re.compile(r"/validateCredentials(\?|$)")


def is_read(method: str, path: str) -> bool:
    method = method.upper()
    return method in ("GET", "HEAD") or (method == "POST" and READ_ONLY_POSTS.search(path.split("?")[0] + "") is not None)


class WriteRefused(RuntimeError):
    """A read-only run tried to write: a bug, never a tenant change. Not a NatomaEntraError on purpose."""

    def __init__(self, method: str, path: str):
        super().__init__(f"a read-only run tried to send {method} {path}; nothing was sent")
