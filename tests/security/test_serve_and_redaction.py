"""`sandbox serve` stays quiet when clients hang up; the redactor masks every spelling of a secret, cut or whole;
a token is taken stripped and refused (never echoed) when it cannot be one."""
from __future__ import annotations

import json
import socket
import struct
import threading
from urllib.parse import quote, quote_plus

import pytest

from natoma_entra import redact
from natoma_entra.graph.errors import parse_error_body
from natoma_entra.errors import UsageError
from natoma_entra.sandbox.serve import make_server

SECRET = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake/payload+with=odd\"chars\\0123456789"


# -- sandbox serve -----------------------------------------------------------------------------------------------------

def _hang_up(addr, data: bytes) -> None:
    """Send `data`, then reset the connection (SO_LINGER 0: RST, not a polite FIN)."""
    s = socket.create_connection(addr)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(data)
    s.close()


def test_a_client_that_hangs_up_gets_no_traceback(tmp_path, capsys):
    srv = make_server(tmp_path / "served.json", port=0)
    finished = threading.Semaphore(0)
    shutdown_request = srv.shutdown_request

    def counted(request):  # called once per connection, after any error handling
        shutdown_request(request)
        finished.release()

    srv.shutdown_request = counted
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    addr = srv.server_address[:2]
    drops = [
        b"GET /v1.0/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-access-token\r\n\r\n",
        b"GET /v1.0/us",  # hung up in the middle of the request line
        b"POST /v1.0/groups HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"a\": ",  # body cut short
        b"GET /v1.0/users HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n",  # nonsense length
    ]
    try:
        for data in drops:
            _hang_up(addr, data)
            assert finished.acquire(timeout=30)
    finally:
        srv.shutdown()
        srv.server_close()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= len(drops)  # at most a line per request


def test_a_bad_port_or_host_is_refused_before_anything_is_loaded(tmp_path):
    from natoma_entra.sandbox.serve import check_serve_options

    for host, port in (("127.0.0.1", 70000), ("127.0.0.1", -1), ("0.0.0.0", 8080)):
        with pytest.raises(UsageError):
            check_serve_options(host, port)
    check_serve_options("::1", 8080)


# -- redaction ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(redact, "_SECRETS", set())
    redact.register(SECRET)
    return SECRET


@pytest.mark.parametrize("spelling", [
    lambda s: s,
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps({"Authorization": f"Bearer {s}"}),
    lambda s: repr(s),
    lambda s: repr(f"Bearer {s}\n".encode()),
    lambda s: quote(s, safe=""),
    lambda s: quote(s),
    lambda s: quote_plus(s),
    lambda s: s[:16],
    lambda s: s[:40] + "...",
])
def test_every_spelling_is_masked(registered, spelling):
    shown = spelling(registered)
    text = redact.redact(f"error: Graph said {shown} [request-id 1]")
    assert "***" in text
    assert registered[:16] not in text and quote(registered[:16], safe="") not in text
    assert text.startswith("error: Graph said ") and text.endswith(" [request-id 1]")  # the rest stays readable


def test_an_html_error_cut_at_200_characters_shows_no_part_of_the_token(registered):
    page = ("<html><body><p>" + "." * 130 + f"Authorization: Bearer {registered}</p></body></html>").encode()
    _, message, _, _ = parse_error_body(page)  # keeps the first 200 characters: the token is cut
    assert registered[:20] in message
    assert registered[:16] not in redact.redact(message)


def test_a_short_run_of_the_secret_is_not_masked(registered):
    assert redact.redact(f"starts {registered[:15]}.") == f"starts {registered[:15]}."  # ordinary text survives


def test_a_token_is_stripped_and_registered():
    token = redact.clean_token("  tok-0123456789abcdef-xyz\r\n", what="the token", where="$X", fix="f")
    assert token == "tok-0123456789abcdef-xyz"
    assert redact.redact("Bearer tok-0123456789abcdef-xyz") == "Bearer ***"


@pytest.mark.parametrize("raw,words", [
    ("tok-0123456789 abcdef", "whitespace"), ("tok-0123456789\x07abcdef", "control"),
    ("tok-0123456789é", "non-ASCII"), ("", "empty"), ("\n\t ", "empty"), ("t" * 20000, "16 KiB"),
])
def test_a_token_that_cannot_be_one_is_refused_without_echo(raw, words):
    with pytest.raises(UsageError) as e:
        redact.clean_token(raw, what="the token", where="$NATOMA_SCIM_TOKEN", fix="give it alone")
    text = str(e.value)
    assert words in text and "$NATOMA_SCIM_TOKEN" in text and e.value.exit_code == 2
    assert "tok-0123456789" not in text and "t" * 20 not in text
