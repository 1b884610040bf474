"""Issue 26: a usage error found while other reads are in flight is one line on stderr, against a real endpoint
(`--graph-endpoint`, sandbox serve over loopback): every read ends before the error is raised (GraphClient.gather,
executor.read_and_plan), so no task is cut short at the loop's end with a traceback."""
from __future__ import annotations

import json
import logging

import pytest

from natoma_entra.sandbox.state import NATOMA_TOKEN

from .conftest import Real


def _no_task_cut_short(caplog: pytest.LogCaptureFixture) -> None:
    """What asyncio logs about a task still running (or failed unseen) when the run ends: in the console script it
    goes to stderr as tracebacks ("unhandled exception during asyncio.run() shutdown"); under pytest the logging
    plugin holds it, so it is read here."""
    cut = [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert cut == [], cut


def test_status_without_a_scim_url_is_one_line(real: Real, caplog: pytest.LogCaptureFixture) -> None:
    real.set_up()
    r = real.cli("--config", real.config(scim_url=False), "status")
    assert r.code == 2 and r.writes == []
    assert r.err.splitlines() == [r.err.strip()], r.err  # one line, nothing before or after it
    assert r.err.startswith("error: no SCIM tenant URL given") and "--scim-url" in r.err
    _no_task_cut_short(caplog)


def test_setup_without_groups_is_one_line(real: Real, caplog: pytest.LogCaptureFixture) -> None:
    real.token_env(NATOMA_TOKEN)
    cfg = real.tmp / "no-groups.toml"
    cfg.write_text(f'app = "Natoma"\nauth = "access-token"\ngraph_endpoint = {json.dumps(real.served.graph_url)}\n\n'
                   f'[scim]\nurl = {json.dumps(real.served.scim_url)}\n')
    before = real.served.state_bytes()
    r = real.cli("--config", cfg, "setup")
    assert r.code == 2 and r.writes == [] and real.served.state_bytes() == before
    # the connection test, read at the same time, says what it does; then the one error line, and nothing else
    lines = [line for line in r.err.splitlines() if not line.startswith("testing the connection to ")]
    assert len(lines) == 1, r.err
    assert lines[0].startswith("error: no groups configured") and "--group" in lines[0]
    _no_task_cut_short(caplog)
