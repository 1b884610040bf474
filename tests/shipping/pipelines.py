"""Run the example pipelines' jobs as GitHub Actions and Azure Pipelines would, on this machine: conditions and
expressions evaluated, every shell step run with bash with the variables the service sets, this repository's action
run step by step (test_action.run_action), artifacts passed between jobs through a directory. Steps that only
prepare a hosted runner (checkout, setup-python, installing the CLI) are stood in for: the CLI is a shim that runs
this checkout's natoma-entra against a sandbox state file.

The expression evaluators know the subset the examples use (GitHub: contexts, `.` and `[...]`, == != && || !,
fromJSON, format, always, success; Azure Pipelines: variables[...], eq ne and or not in succeeded). An expression
outside it fails the test: the examples cannot quietly use syntax these runs do not check."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from natoma_entra.sandbox.state import NATOMA_TOKEN

CLI = Path(sys.executable).parent / "natoma-entra"
ROOT = Path(__file__).resolve().parents[2]
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+)|(?P<op>==|!=|&&|\|\||!|\(|\)|\[|\]|,|\.)"
                    r"|(?P<name>[A-Za-z_][\w-]*))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(text.rstrip()):
        m = _TOKEN.match(text, i)
        assert m and m.end() > i, f"cannot read the expression {text!r} at {text[i:]!r}"
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


class Expression:
    """A recursive-descent reader of one expression over `context` (names -> values) and `functions`."""

    def __init__(self, text: str, context: dict[str, Any], functions: dict[str, Callable[..., Any]]):
        self.tokens, self.i, self.context, self.functions = _tokens(text), 0, context, functions
        self.text = text

    def value(self) -> Any:
        v = self._or()
        assert self.i == len(self.tokens), f"unread part of {self.text!r}"
        return v

    def _peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def _take(self, want: str | None = None) -> tuple[str, str]:
        tok = self.tokens[self.i]
        assert want is None or tok[1] == want, f"{self.text!r}: expected {want!r}, got {tok[1]!r}"
        self.i += 1
        return tok

    def _or(self) -> Any:
        v = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            v = v if truthy(v) else right
        return v

    def _and(self) -> Any:
        v = self._cmp()
        while self._peek() == "&&":
            self._take()
            right = self._cmp()
            v = right if truthy(v) else v
        return v

    def _cmp(self) -> Any:
        v = self._unary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            same = equal(v, self._unary())
            return same if op == "==" else not same
        return v

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._postfix()

    def _postfix(self) -> Any:
        v = self._primary()
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            v = v.get(key) if isinstance(v, dict) else None
        return v

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return int(text)
        if text == "(":
            v = self._or()
            self._take(")")
            return v
        assert kind == "name", f"{self.text!r}: unexpected {text!r}"
        if self._peek() == "(":
            self._take()
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take(")")
            assert text.lower() in self.functions, f"{self.text!r}: unknown function {text}"
            return self.functions[text.lower()](*args)
        if text in ("true", "false"):
            return text == "true"
        return self.context.get(text)


def truthy(v: Any) -> bool:
    return bool(v) and v != "false"


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()  # both services compare strings ignoring case
    return a == b


def shown(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


# -- GitHub Actions ---------------------------------------------------------------------------------------------------

GITHUB_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "fromjson": lambda s: json.loads(s), "tojson": lambda v: json.dumps(v),
    "format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: shown(a[int(m.group(1))]), f),
    "always": lambda: True, "success": lambda: True,
}


def github_eval(expr: str, context: dict[str, Any]) -> Any:
    return Expression(expr, context, GITHUB_FUNCTIONS).value()


def github_render(value: Any, context: dict[str, Any]) -> str:
    """A string with each ${{ expression }} replaced by its value, as the runner substitutes it."""
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: shown(github_eval(m.group(1), context)), str(value))


def _condition(expr: Any, context: dict[str, Any]) -> bool:
    if expr is None:
        return True
    text = str(expr).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    return truthy(github_eval(text, context))


@dataclass
class Runner:
    """What stands in for GitHub's runners in one test: the workspace, the artifacts, the programs on PATH."""

    root: Path
    path_dirs: list[Path]
    env: Callable[[Path, dict | None], dict]  # tests/shipping/conftest.py clean_env
    extra_env: dict[str, str] = field(default_factory=dict)
    ran: list[tuple[str, str, int]] = field(default_factory=list)  # (job, step, exit code)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def run_github_job(self, workflow: dict, name: str, context: dict[str, Any], workspace: Path,
                       run_action: Callable[..., Any]) -> dict[str, Any] | None:
        """One job (each matrix entry, when it has a matrix): None when its `if` skips it, else its outputs and
        each step's exit code."""
        job = workflow["jobs"][name]
        if not _condition(job.get("if"), context):
            return None
        matrix = (job.get("strategy") or {}).get("matrix")
        if matrix:
            (key, values), = matrix.items()
            entries = github_eval(values.strip()[3:-2], context) if isinstance(values, str) else values
            return {"matrix": [self._github_steps(workflow, name, {**context, "matrix": {key: entry}},
                                                  workspace / f"{name}-{i}", run_action)
                               for i, entry in enumerate(entries)]}
        return self._github_steps(workflow, name, context, workspace, run_action)

    def _github_steps(self, workflow: dict, name: str, context: dict[str, Any], workspace: Path,
                      run_action: Callable[..., Any]) -> dict[str, Any]:
        job = workflow["jobs"][name]
        workspace.mkdir(parents=True, exist_ok=True)
        steps: dict[str, Any] = {}
        codes: list[tuple[str, int]] = []
        failed = False
        for n, step in enumerate(job["steps"]):
            ctx = {**context, "steps": steps}
            label = step.get("name") or step.get("uses") or f"step {n}"
            cond = step.get("if")
            if (failed and "always()" not in str(cond)) or not _condition(cond, ctx):
                continue
            env = {k: github_render(v, ctx) for k, v in (step.get("env") or {}).items()}
            uses = str(step.get("uses", ""))
            with_ = {k: github_render(v, ctx) for k, v in (step.get("with") or {}).items()}
            code, outputs = 0, {}
            if uses.startswith("natoma/natoma-entra@"):
                code, _ran, outputs, _files, _env = run_action(self.env, workspace, with_, self.path_dirs,
                                                                {**self.extra_env, **env})
            elif uses.startswith("actions/upload-artifact@"):
                source = workspace / with_["path"]
                if source.exists():
                    (self.artifacts / with_["name"]).mkdir(parents=True, exist_ok=True)
                    shutil.copy(source, self.artifacts / with_["name"] / source.name)
                elif with_.get("if-no-files-found") == "error":
                    code = 1
            elif uses.startswith("actions/download-artifact@"):
                for f in (self.artifacts / with_["name"]).iterdir():
                    shutil.copy(f, workspace / f.name)
            elif uses.startswith(("actions/checkout@", "actions/setup-python@")):
                continue  # the workspace is prepared by the test; python3 is on PATH
            elif "run" in step:
                code, outputs = self._bash(github_render(step["run"], ctx) if "${{" in step["run"] else step["run"],
                                           workspace, env)
            else:
                raise AssertionError(f"{name}: a step this runner does not know: {step}")
            self.ran.append((name, label, code))
            codes.append((label, code))
            if step.get("id"):
                steps[step["id"]] = {"outputs": outputs}
            failed = failed or code != 0
        ctx = {**context, "steps": steps}
        return {"outputs": {k: github_render(v, ctx) for k, v in (job.get("outputs") or {}).items()},
                "codes": codes, "workspace": workspace}

    def _bash(self, script: str, cwd: Path, env: dict[str, str]) -> tuple[int, dict[str, str]]:
        output = cwd / ".github_output"
        output.write_text("")
        full = self.env(self.root, {**self.extra_env, **env, "GITHUB_OUTPUT": str(output),
                                    "RUNNER_TEMP": str(self.root)})
        full["PATH"] = os.pathsep.join([*map(str, self.path_dirs), full["PATH"]])
        # GitHub runs `shell: bash` as: bash --noprofile --norc -eo pipefail {0}
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=full,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0 or p.returncode in (1, 2, 3, 4), p.stdout + p.stderr
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        return p.returncode, outputs


def sandbox_shim(directory: Path, state: Path, cli: Path = CLI) -> Path:
    """A `natoma-entra` on PATH that runs this checkout's CLI against the sandbox kept in `state`."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "natoma-entra"
    shim.write_text(f'#!/bin/bash\nexec "{cli}" --sandbox --sandbox-state "{state}" "$@"\n')
    shim.chmod(0o755)
    return shim


# -- Azure Pipelines --------------------------------------------------------------------------------------------------

def ado_eval(expr: str, variables: dict[str, Any], succeeded: bool = True) -> Any:
    functions: dict[str, Callable[..., Any]] = {
        "eq": equal, "ne": lambda a, b: not equal(a, b), "and": lambda *a: all(truthy(x) for x in a),
        "or": lambda *a: any(truthy(x) for x in a), "not": lambda a: not truthy(a),
        "in": lambda v, *options: any(equal(v, o) for o in options), "succeeded": lambda: succeeded}
    return Expression(expr, {"variables": variables}, functions).value()


def ado_template(text: str, parameters: dict[str, Any]) -> Any:
    """A template's ${{ parameters.x }} replaced (the only template expression the examples use)."""
    def one(m: re.Match) -> str:
        name = m.group(1).strip()
        assert name.startswith("parameters."), f"a template expression the runner does not know: {name}"
        return shown(parameters[name.removeprefix("parameters.")])

    return yaml.safe_load(re.sub(r"\$\{\{(.*?)\}\}", one, text))


def ado_macros(value: str, variables: dict[str, Any]) -> str:
    """$(Name) replaced as the agent does at run time; an unknown name stays as written (as Azure Pipelines leaves
    it)."""
    return re.sub(r"\$\(([\w.]+)\)", lambda m: shown(variables[m.group(1)]) if m.group(1) in variables
                  else m.group(0), value)


def ado_env_name(variable: str) -> str:
    return variable.upper().replace(".", "_")


@dataclass
class AdoRun:
    """One pipeline run: its variables (predefined and the pipeline's), its artifacts, what each stage did."""

    pipeline_dir: Path
    root: Path
    variables: dict[str, Any]
    env: Callable[[Path, dict | None], dict]
    secrets: set[str] = field(default_factory=set)  # variables the agent does not put in a step's environment
    stages: dict[str, list[int]] = field(default_factory=dict)  # stage -> exit codes of its shell steps
    logs: list[str] = field(default_factory=list)  # each shell step's stdout and stderr, for a failing test's message

    def selected(self, pipeline: dict) -> list[str]:
        """The stages this run's variables select (their conditions), without running them."""
        return [st["stage"] for st in pipeline["stages"]
                if not st.get("condition") or truthy(ado_eval(st["condition"], self.variables))]

    def run(self, pipeline: dict) -> None:
        self.variables = {**(pipeline.get("variables") or {}), **self.variables}
        for stage in pipeline["stages"]:
            cond = stage.get("condition")
            if cond and not truthy(ado_eval(cond, self.variables)):
                continue
            codes = self.stages.setdefault(stage["stage"], [])
            for job in stage["jobs"]:
                cond = job.get("condition")
                if cond and not truthy(ado_eval(cond, self.variables)):
                    continue
                steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
                for step in steps:
                    codes.extend(self._step(step))
                    if codes and codes[-1] != 0:
                        break

    def _step(self, step: dict) -> list[int]:
        if "template" in step:
            text = (self.pipeline_dir / step["template"]).read_text()
            spec = yaml.safe_load(text)
            params = {p["name"]: p.get("default") for p in spec.get("parameters") or []}
            params.update(step.get("parameters") or {})
            assert all(v is not None for v in params.values()), f"a parameter without a value: {params}"
            return [c for s in ado_template(text, params)["steps"] for c in self._step(s)]
        cond = step.get("condition")
        if cond and not truthy(ado_eval(cond, self.variables)):
            return []
        workspace = Path(self.variables["Pipeline.Workspace"])
        (workspace / "s").mkdir(parents=True, exist_ok=True)
        if "publish" in step:
            target = self.root / "artifacts" / step["artifact"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(workspace / "s" / step["publish"], target)
            return [0]
        if "download" in step:
            shutil.copytree(self.root / "artifacts" / step["artifact"], workspace / step["artifact"],
                            dirs_exist_ok=True)
            return [0]
        if "checkout" in step or step.get("task") == "UsePythonVersion@0":
            return []
        if str(step.get("displayName", "")).startswith("Install natoma-entra"):
            return []  # the shim stands in for the pinned install
        assert "bash" in step, f"a step this runner does not know: {step}"
        env = {ado_env_name(k): shown(v) for k, v in self.variables.items() if k not in self.secrets}
        env.update({k: ado_macros(shown(v), self.variables) for k, v in (step.get("env") or {}).items()})
        full = self.env(self.root, env)
        p = subprocess.run(["bash", "--noprofile", "--norc", "-c", step["bash"]], cwd=workspace / "s", env=full,
                           capture_output=True, text=True, timeout=300)
        self.logs.append(p.stdout[-3000:] + p.stderr[-3000:])
        return [p.returncode]


# -- what the example tests share ---------------------------------------------------------------------------------

CONFIG = """app = "Natoma"
tenant = "contoso.onmicrosoft.com"
[groups]
admin = ["Natoma Admins"]
AppAdmin = ["Natoma App Admins"]
member = ["Natoma Members"]
[scim]
url = "https://natoma.sandbox.test/scim/v2"
"""
REPO = "contoso/entra-config"
VARS = {"AZURE_CLIENT_ID_READ": "00000000-0000-0000-0000-00000000ead0", "AZURE_TENANT_ID": "contoso.onmicrosoft.com",
        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-0000000071e0"}


def workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / name).read_text())


def github(event: str, **event_payload) -> dict:
    return {"github": {"event_name": event, "repository": REPO, "token": "ghs_fake", "event": event_payload},
            "vars": dict(VARS), "secrets": {"NATOMA_SCIM_TOKEN": NATOMA_TOKEN}, "needs": {}}


def codes(result: dict) -> list[int]:
    """The exit codes of a job's steps that ran something (the action, a script, an artifact)."""
    return [code for _label, code in result["codes"]]
