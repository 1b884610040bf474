"""Values as people read them: an ISO 8601 duration ("PT40M", Graph's job schedule interval) as "every 40 minutes".
JSON keeps the value Graph gave; only the text shows it humanised."""
from __future__ import annotations

import re

_DURATION = re.compile(r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
                       r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$")
_UNITS = (("days", "day"), ("hours", "hour"), ("minutes", "minute"), ("seconds", "second"))


def duration(value: str) -> str | None:
    """'PT40M' -> '40 minutes', 'PT1H30M' -> '1 hour 30 minutes', 'P1D' -> '1 day'; None when it is not a duration
    of days, hours, minutes and seconds (the forms a provisioning schedule uses)."""
    m = _DURATION.match(value.strip().upper()) if isinstance(value, str) else None
    if not m or value.strip().upper() in ("P", "PT") or value.strip().upper().endswith("T"):
        return None
    parts = []
    for key, unit in _UNITS:
        raw = m.group(key)
        if raw is None:
            continue
        n = float(raw)
        if n == 0:
            continue
        text = str(int(n)) if n.is_integer() else raw
        parts.append(f"{text} {unit}" + ("" if n == 1 else "s"))
    return " ".join(parts) if parts else "0 seconds"


def info_value(key: str, value):
    """A step's info value for the text report: the job's interval humanised, everything else as given."""
    if key == "interval" and isinstance(value, str):
        human = duration(value)
        if human:
            return f"every {human}"
    return value
