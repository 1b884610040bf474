"""Progress of a paced run of several items (provision of a group's members: Graph allows 5 per 10 s): at a terminal a
rich.progress bar (the bar, n/total, elapsed, ETA, the item in hand) that stays on screen once full; elsewhere (a CI
log, a pipe) a line at most every `every` seconds.

The executor calls `on_progress(done, total, label)` (natoma_entra/steps/base.py ApplyContext); a reporter is a
context manager so that a run stopped half way (an error, Ctrl-C) still ends the bar's live display."""
from __future__ import annotations

import time
from typing import Any, Callable

Clock = Callable[[], float]
# what the bar's columns but the item's name take: "provisioning", the bar (20), "12/40", "0:00:20", "ETA 0:01:00",
# and the spaces between them
FIXED_WIDTH = 64


class LineProgress:
    """Off a terminal: "provisioning: 5 of 40 done, next X (...)" at most every `every` seconds, never the last."""

    def __init__(self, say: Callable[[str], None], *, every: float = 10.0, clock: Clock = time.monotonic,
                 noun: str = "provisioning", pace: str = "Graph allows 5 per 10 s"):
        self.say, self.every, self.clock, self.noun, self.pace = say, every, clock, noun, pace
        self._last: float | None = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if total <= 1 or done >= total:
            return
        now = self.clock()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            self.say(f"{self.noun}: {done} of {total} done, next {label} ({self.pace})")

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class BarProgress:
    """At a terminal: rich.progress on the stderr console (a Live display; the run's spinner is paused meanwhile).
    The item's name is data: it is shown through inert.clean and a column that reads no markup."""

    def __init__(self, console: Any, *, clock: Clock = time.monotonic, pause: Callable[[], Any] | None = None,
                 noun: str = "provisioning", pace: str = "5 per 10 s"):
        self.console, self.clock, self.pause, self.noun, self.pace = console, clock, pause, noun, pace
        self._progress: Any = None
        self._task: Any = None
        self._paused: Any = None

    def _start(self, total: int) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        from rich.table import Column

        if self.pause is not None:
            self._paused = self.pause()  # the spinner stops while the bar shows (one live display at a time)
            self._paused.__enter__()
        # fixed widths but the item's name, which is cut (never wrapped) to what is left: at 80 columns the bar and
        # the numbers keep their room
        self._progress = Progress(
            TextColumn(self.noun, markup=False), BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA", markup=False), TimeRemainingColumn(),
            TextColumn("{task.description}", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis",
                                           max_width=max(12, self.console.width - FIXED_WIDTH))),
            console=self.console, get_time=self.clock, transient=False)
        self._task = self._progress.add_task("", total=total)
        self._progress.start()

    def __call__(self, done: int, total: int, label: str) -> None:
        from ..inert import clean

        if total <= 1:
            return
        if self._progress is None:
            self._start(total)
        full = done >= total
        self._progress.update(self._task, completed=min(done, total), total=total,
                              description=f"done ({self.pace})" if full else f"next {clean(label)} ({self.pace})")
        if full:
            self.close()

    def close(self) -> None:
        """The bar stays on screen as it last was (full when every item went through); the spinner comes back."""
        if self._progress is not None:
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
        if self._paused is not None:
            paused, self._paused = self._paused, None
            paused.__exit__(None, None, None)

    def __enter__(self) -> "BarProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_reporter(g: Any, *, every: float = 10.0, clock: Clock | None = None,
                      terminal: bool | None = None) -> LineProgress | BarProgress:
    """on_progress for several users: the bar at a terminal (not with --quiet or --verbose, whose lines it would
    tangle), else a line at most every `every` seconds (none with --quiet: Application.say)."""
    clock = clock or time.monotonic
    tty = g.err.is_terminal if terminal is None else terminal
    if tty and not g.quiet and not g.verbose:
        return BarProgress(g.err, clock=clock, pause=g.spinner_paused)
    return LineProgress(g.say, every=every, clock=clock)
