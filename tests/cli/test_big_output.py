"""Text output of big results and piped tables (issue 26): the summary first, a bounded list in natural order with
"... and N more (-o json for all)", `--all` for every line; piped tables plain (no box drawing, aligned); at a
terminal of 80 columns an id is never folded; `sandbox show` never prints None."""
from __future__ import annotations

import io
import re

import pytest

from natoma_entra.listing import SHOWN, more

BOX = re.compile("[\u2500-\u257f]")  # box drawing characters
N = 70  # users added to Natoma Members, none of them in Natoma: all "missing"


def add_members(sandbox, n: int) -> list[str]:
    from natoma_entra.sandbox.state import group_id, user_id

    t = sandbox.tenant()
    upns = []
    for i in range(n):
        uid = user_id(f"Extra {i}")
        upn = f"extra{i}@contoso.onmicrosoft.com"
        t.state["users"][uid] = {"id": uid, "displayName": f"Extra {i}", "userPrincipalName": upn,
                                 "mailNickname": f"extra{i}", "accountEnabled": True}
        t.state["members"][group_id("Natoma Members")].append(uid)
        upns.append(upn)
    sandbox.save(t)
    return upns




@pytest.fixture
def many(sandbox):
    assert sandbox.set_up().code == 0
    add_members(sandbox, N)
    return sandbox


def test_audit_text_is_the_summary_then_a_bounded_list_in_natural_order(many):
    r = many.cli("audit")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("audit: differences found"))
    rows = [i for i, line in enumerate(lines) if line.startswith("extra")]
    assert summary < rows[0]  # the summary first
    assert len(rows) == SHOWN  # bounded: 70 (and Lee) differ
    listed = [lines[i].split()[0] for i in rows]
    assert listed[:12] == [f"extra{i}@contoso.onmicrosoft.com" for i in range(12)]  # extra2 before extra10
    assert any(line.startswith(more(N + 1 - SHOWN)) for line in lines), r.out
    assert not BOX.search(r.out)  # piped: plain


def test_audit_all_lists_every_user_and_json_holds_them_all(many):
    r = many.cli("audit", "--all")
    assert r.code == 0
    listed = [line.split()[0] for line in r.out.splitlines() if line.startswith("extra")]
    assert len(listed) == N and "-o json for all" not in r.out
    doc = many.cli("audit", "-o", "json").json()
    assert len([u for u in doc["steps"][0]["info"]["users"] if u["user"].startswith("extra")]) == N


def test_piped_tables_are_plain_aligned_lines(many):
    r = many.cli("sandbox", "show")
    assert r.code == 0
    assert not BOX.search(r.out) and "\t" not in r.out  # no box drawing, no control character
    assert re.search(r"^user \(UPN\) +groups +Entra will send +Natoma holds$", r.out, re.M)
    assert re.search(r"^AdeleV@contoso.onmicrosoft.com +All Company, Natoma Admins +admin +admin$", r.out, re.M)
    assert max(len(line) for line in r.out.splitlines()) < 400  # the group of 70 members is cut in its cell
    assert "and 63 more (-o json for all)" in r.out  # Natoma Members: Lee, Megan, Contractors and 70: 10 shown


def test_sandbox_show_never_prints_python_none(sandbox):
    r = sandbox.cli("sandbox", "show")  # a fresh sandbox: msiam_access and User have no value
    assert r.code == 0
    assert not re.search(r"\bNone\b", r.out), r.out
    assert re.search(r"^msiam_access +- +yes$", r.out, re.M)


def test_at_80_columns_a_upn_is_never_folded(many):
    """At a terminal tables fold long values, but never an id: a UPN can be copied whole."""
    from rich.console import Console

    from natoma_entra.cli.application import Application
    from natoma_entra.cli.main import run

    screen = io.StringIO()
    out = Console(file=screen, force_terminal=True, width=80, color_system=None, markup=False, emoji=False)
    with pytest.raises(SystemExit):
        run(["--sandbox", "--sandbox-state", str(many.path), "sandbox", "show"],
            application=Application(backend=many.backend(), _out=out))
    text = screen.getvalue()
    assert BOX.search(text)  # a table, at a terminal
    for upn in ("PradeepG@contoso.onmicrosoft.com", "extra69@contoso.onmicrosoft.com"):
        assert re.search(rf"^\S*\s*{re.escape(upn)}\s", text, re.M), upn  # whole, on one line
