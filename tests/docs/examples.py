"""Run the docs' examples on the sandbox and write what they print: `python tests/docs/examples.py [PAGE.md ...]`.

An example is a ```bash block followed by an output block between markers:

    ```bash
    natoma-entra --sandbox roles --dry-run
    ```

    <!-- OUTPUT -->
    ```text title="Output"
    (written by this script)
    ```
    <!-- OUTPUT END -->

`<!-- OUTPUT after: CMD -->` runs CMD first (its output is not shown). The examples of a page run in order, on one
sandbox tenant that starts fresh for the page, in an empty home directory (shown as ~), as a shell would run them: stdout and stderr
together, no colour, 120 columns. With several commands in the block, each one's output is under a `$ command` line. A
non-zero exit (of the last command) is said in the block's title. Slow (a few seconds per page), so the
test suite does not run it; run it after a change to what a command prints.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# a ```bash block at the start of a line (not one indented in a tab) whose lines do not start with a backtick, then
# the output markers right after it
EXAMPLE = re.compile(r"^(?P<cmd>```bash\n(?P<script>(?:[^`\n][^\n]*\n|\n)*?)```\n\n)"
                     r"(?P<begin><!-- OUTPUT(?: after: (?P<after>[^>\n]*?))? -->\n)"
                     r"(?P<body>```text[^\n]*\n(?:[^`\n][^\n]*\n|\n)*?```\n)(?P<end><!-- OUTPUT END -->)", re.M)
COLUMNS = 120


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NATOMA_", "AZURE_")) and k not in ("COLUMNS", "FORCE_COLOR")}
    env.pop("XDG_STATE_HOME", None)  # the sandbox's state goes where a reader's does: ~/.local/state/natoma-entra
    env.update({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", "HOME": str(home),
                "NO_COLOR": "1", "COLUMNS": str(COLUMNS), "PYTHONUNBUFFERED": "1", "TERM": "dumb"})
    return env


def _run(script: str, home: Path) -> tuple[str, int]:
    r = subprocess.run(["bash", "-c", script], cwd=home, env=_env(home), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    return r.stdout.replace(str(home), "~"), r.returncode  # the temporary home reads as a reader's own


def _commands(script: str) -> list[str]:
    """The block's commands, one per line (a line ending in a backslash continues on the next)."""
    out, current = [], ""
    for line in script.splitlines():
        current += line + "\n"
        if not line.rstrip().endswith("\\"):
            if current.strip() and not current.lstrip().startswith("#"):
                out.append(current.rstrip("\n"))
            current = ""
    return out


def transcript(script: str, home: Path) -> tuple[str, int]:
    """What the block prints; with several commands, each command's output under a `$ command` line."""
    commands = _commands(script)
    parts, code = [], 0
    for cmd in commands:
        out, code = _run(cmd, home)
        shown = re.sub(r"\s+#.*$", "", cmd.splitlines()[0]) + ("\n" + "\n".join(cmd.splitlines()[1:])
                                                              if "\n" in cmd else "")
        parts.append((f"$ {shown}\n" if len(commands) > 1 else "") + out.rstrip("\n"))
    return "\n".join(parts), code


def refresh(page: Path) -> int:
    """Rewrites the page's example outputs; returns how many it ran."""
    text = page.read_text(encoding="utf-8")
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)

        def one(m: re.Match) -> str:
            nonlocal count
            if m.group("after"):
                _run(m.group("after"), home)
            out, code = transcript(m.group("script"), home)
            count += 1
            title = "Output" if code == 0 else f"Output (exit {code})"
            lines = [line.rstrip() for line in out.rstrip("\n").splitlines()]
            block = f'```text title="{title}"\n' + "\n".join(lines) + "\n```\n"
            return m.group("cmd") + m.group("begin") + block + m.group("end")

        new = EXAMPLE.sub(one, text)
    if new != text:
        page.write_text(new, encoding="utf-8")
    return count


def main(args: list[str]) -> int:
    pages = [DOCS / a if not Path(a).is_absolute() else Path(a) for a in args] or sorted(DOCS.glob("*.md"))
    for page in pages:
        n = refresh(page)
        if n:
            print(f"{page.relative_to(ROOT)}: {n} example(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
