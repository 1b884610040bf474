"""natoma_entra/console.py: the process's entry runs the command line with the collector tuned for a short run, and
leaves what is alive at its end frozen (the interpreter's shutdown does not walk it)."""
from __future__ import annotations

import gc
import sys

import pytest

from natoma_entra import __version__
from natoma_entra.console import COLLECTOR_THRESHOLDS, main


def test_the_entry_runs_the_command_line_with_the_short_run_collector(monkeypatch, capsys):
    thresholds = gc.get_threshold()
    monkeypatch.setattr(sys, "argv", ["natoma-entra", "--version"])
    gc.unfreeze()  # what earlier files left frozen (tests/conftest.py) is thawed, then refrozen below
    try:
        with pytest.raises(SystemExit) as stop:
            main()
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*thresholds)
        gc.freeze()
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"natoma-entra {__version__}"
