"""Regenerate the docs' generated parts: `python tests/docs/generate.py`.

- docs/report.schema.json: the JSON Schema of the report (`natoma_entra.results.Report`).
- docs/permissions.md: the tables between the GENERATED markers, from natoma_entra/permissions.py.

tests/docs/test_generated.py fails when either is out of date.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "report.schema.json"
PERMISSIONS = ROOT / "docs" / "permissions.md"
BEGIN, END = "<!-- GENERATED from natoma_entra/permissions.py: begin -->", "<!-- GENERATED: end -->"


def report_schema() -> str:
    from natoma_entra.results import Report

    schema = Report.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "https://natoma-entra/report.schema.json",
              "title": "natoma-entra report", **{k: v for k, v in schema.items() if k != "title"}}
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def permissions_page(current: str) -> str:
    from natoma_entra.permissions import markdown

    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{markdown()}\n{END}{tail}"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    SCHEMA.write_text(report_schema())
    PERMISSIONS.write_text(permissions_page(PERMISSIONS.read_text()))
    print(f"wrote {SCHEMA.relative_to(ROOT)} and {PERMISSIONS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
