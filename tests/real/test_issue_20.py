"""Issue 20's crash, run as the issue shows it: `sandbox serve` on loopback, a real-mode `setup` with --scim-url,
then `provision --verify` and `audit` WITHOUT --scim-url (no scim.url anywhere): Natoma's URL is the one the job
saved. Before the fix both ended "unexpected AttributeError: 'Secrets' object has no attribute 'get'" (exit 1), the
provisionOnDemand request already sent and its verdict lost."""
from __future__ import annotations

from natoma_entra.sandbox.state import ACCESS_TOKEN, NATOMA_TOKEN

from .conftest import Real

ADELE = "AdeleV@contoso.onmicrosoft.com"


def test_provision_verify_and_audit_read_natoma_at_the_url_the_job_saved(real: Real, monkeypatch) -> None:
    served = real.served
    monkeypatch.setenv("NATOMA_ENTRA_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("NATOMA_SCIM_TOKEN", NATOMA_TOKEN)
    login = ["--auth", "access-token", "--graph-endpoint", served.graph_url, "--app", "Natoma"]

    r = real.cli(*login, "setup", "--scim-url", served.scim_url,
                 "--group", "admin=Natoma Admins", "--group", "member=Natoma Members")
    assert r.code == 0, r.err
    assert served.secrets()["BaseAddress"] == served.scim_url  # the URL the later runs must find

    r = real.cli(*login, "provision", ADELE, "--verify")
    assert r.code == 0, r.err
    assert "AttributeError" not in r.err
    assert [w for w in r.writes if w[1].endswith("/provisionOnDemand")]  # the request went out...
    # ...and its verdict is read back from Natoma at the saved URL
    assert f"reading {ADELE} back from Natoma ({served.scim_url})" in r.err
    assert "roles=admin (matches Entra)" in r.out
    assert served.natoma()[ADELE] == ["admin"]

    r = real.cli(*login, "audit")
    assert r.code == 0, r.err
    assert "AttributeError" not in r.err
    assert f"Natoma: {served.scim_url}" in r.out
    # Adele (admin) and Megan (member) are in Natoma with the role Entra sends; Lee is in both groups
    assert "ok: 2, missing in Natoma: 0, wrong role: 0" in r.out, r.out
    assert "LeeG@contoso.onmicrosoft.com" in r.out and "will fail: multiple grants" in r.out
