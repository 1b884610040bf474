"""National clouds: the Graph host and the sign-in authority move together.

Source: Microsoft Graph docs, concepts/deployments.md.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    graph_root: str  # no trailing slash
    authority_host: str  # azure-identity's authority (AzureAuthorityHosts values)
    non_gallery_template_id: str  # the "non-gallery application" template in that cloud


CLOUDS: dict[str, Cloud] = {
    "global": Cloud(
        "global", "https://graph.microsoft.com", "login.microsoftonline.com",
        "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",
    ),
    "usgov": Cloud(
        "usgov", "https://graph.microsoft.us", "login.microsoftonline.us",
        "4602d0b4-76bb-404b-bca9-2652e1a39c6d",
    ),
    "usgov-dod": Cloud(
        "usgov-dod", "https://dod-graph.microsoft.us", "login.microsoftonline.us",
        "4602d0b4-76bb-404b-bca9-2652e1a39c6d",
    ),
    "china": Cloud(
        "china", "https://microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn",
        "5a532e38-1581-4918-9658-008dc27c1d68",
    ),
}

def is_loopback(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts where plain http is accepted."""
    import ipaddress

    if not host:
        return False
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MAX_URL = 2048


def check_url(url: str, what: str, example: str) -> str:
    """Exactly scheme://host[:port]/path: https, or http on a loopback host only (a rehearsal server). No user name or
    password, query, fragment, whitespace, control or non-ASCII character (a pasted URL often carries a trailing
    newline or a leading space, which would be saved as given). ValueError says why not, never echoing a password."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or not url:
        raise ValueError(f"{what} is empty; give an absolute https URL such as {example}")
    if len(url) > MAX_URL:
        raise ValueError(f"{what} is longer than {MAX_URL} characters; give an absolute https URL such as {example}")
    if any(not c.isascii() for c in url):
        raise ValueError(f"{what} contains a non-ASCII character; write the host in punycode and percent-encode the "
                         f"path, as in {example}")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise ValueError(f"{what} contains whitespace or a control character (a stray space, tab or line break?); "
                         f"give it alone, such as {example}")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port out of range
    except ValueError:
        raise ValueError(f"{what} is not a valid URL (check its host and port); give one such as {example}") from None
    if "@" in parts.netloc:  # never echoed: it holds a password
        raise ValueError(f"{what} contains a user name or password (user:password@host); give it without, such as "
                         f"{example} (secrets come from the environment, a file or stdin)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute https URL such as {example}, got {url!r}")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(f"{what} must not have a query (?...) or fragment (#...), such as {example}, got {url!r}")
    if port == 0:
        raise ValueError(f"{what} has port 0; give the server's port, such as {example}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"{what} must use https (http is accepted only for loopback hosts such as 127.0.0.1), "
                         f"got {url!r}")
    return url


def graph_base_url(cloud: str, endpoint: str | None = None) -> str:
    """The Graph v1.0 base URL, without a trailing slash (a trailing slash gives '//applications': docs/dev/design-notes.md)."""
    if endpoint:
        return endpoint.rstrip("/")
    return CLOUDS[cloud].graph_root + "/v1.0"


def check_endpoint(url: str) -> str:
    """Validate a --graph-endpoint URL: absolute, https, or http on a loopback host only."""
    return check_url(url, "--graph-endpoint", "https://graph.microsoft.com/v1.0").rstrip("/")
