"""Shell completion (Typer's --install-completion / --show-completion) and NATOMA_ENTRA_OUTPUT."""
import json
import os
import subprocess
import sys

import pytest

from natoma_entra.cli.main import run


def _complete(words: str, shell: str = "bash") -> list[str]:
    """What the shell would offer: the completion protocol the generated scripts use (_NATOMA_ENTRA_COMPLETE)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("_NATOMA_ENTRA")}
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env.update({"_NATOMA_ENTRA_COMPLETE": f"complete_{shell}", "COMP_WORDS": words, "COMP_CWORD": str(cword),
                "_TYPER_COMPLETE_ARGS": words})
    out = subprocess.run([sys.executable, "-m", "natoma_entra"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize("args, marker", [
    (["--show-completion", "bash"], "complete -o default -F _natoma_entra_completion natoma-entra"),
    (["--show-completion=zsh"], "#compdef natoma-entra"),
    (["--show-completion", "fish"], "complete --command natoma-entra"),
])
def test_show_completion_prints_the_script_of_the_shell_named(capsys, monkeypatch, args, marker):
    """The shell named is used whatever shell runs the command (typer's flag took no value and printed the current
    shell's script, or failed where none could be detected)."""
    from natoma_entra.cli import completion

    monkeypatch.setattr(completion, "current_shell", lambda: "zsh" if "zsh" not in args[0] else "bash")
    with pytest.raises(SystemExit) as e:
        run(args)
    assert e.value.code == 0
    script = capsys.readouterr().out
    assert marker in script and "_NATOMA_ENTRA_COMPLETE" in script


def test_show_completion_without_a_shell_uses_the_current_one_and_says_how_to_name_one_it_cannot_tell(
        capsys, monkeypatch):
    from natoma_entra.cli import completion

    monkeypatch.setattr(completion, "current_shell", lambda: "bash")
    with pytest.raises(SystemExit) as e:
        run(["--show-completion"])
    assert e.value.code == 0 and "_NATOMA_ENTRA_COMPLETE=complete_bash" in capsys.readouterr().out
    monkeypatch.setattr(completion, "current_shell", lambda: None)  # a pipeline, a container, CI: no shell above
    with pytest.raises(SystemExit) as e:
        run(["--show-completion"])
    captured = capsys.readouterr()
    assert e.value.code == 2 and captured.out == ""
    assert captured.err == ("error: cannot tell which shell this is (no shell among the parent processes). "
                            "Fix: name it: natoma-entra --show-completion bash (or zsh, fish, powershell)\n")
    with pytest.raises(SystemExit) as e:
        run(["--show-completion", "tcsh"])
    assert e.value.code == 2 and "'tcsh' is not a shell natoma-entra completes" in capsys.readouterr().err


def test_install_completion_for_the_shell_named_writes_its_files_under_home(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SystemExit) as e:
        run(["--install-completion", "bash"])
    assert e.value.code == 0
    script = tmp_path / ".bash_completions" / "natoma-entra.sh"
    assert "_NATOMA_ENTRA_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()
    assert f"bash completion installed in {script}" in capsys.readouterr().out


def test_install_completion_is_offered_in_help(capsys):
    with pytest.raises(SystemExit):
        run(["--help"])
    out = capsys.readouterr().out
    assert "--install-completion" in out and "--show-completion" in out


def test_completing_a_command_name_offers_the_matching_commands():
    assert _complete("natoma-entra se") == ["setup"]
    assert set(_complete("natoma-entra s")) == {"setup", "start", "status", "show", "sandbox"}
    # after a global option, and for a sub-command's own options
    assert _complete("natoma-entra --sandbox st") == ["start", "status"]
    assert _complete("natoma-entra provision --ver") == ["--verify"]


def test_completing_an_option_offers_its_values(capsys, monkeypatch):
    """--cloud, --auth, --output and --scope offer what they accept, as a shell asks for them (the variables the
    generated bash script sets), answered in this process."""
    def complete(words: str) -> list[str]:
        monkeypatch.setenv("_NATOMA_ENTRA_COMPLETE", "complete_bash")
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(len(words.split()) - (0 if words.endswith(" ") else 1)))
        with pytest.raises(SystemExit) as e:
            run([])
        assert e.value.code == 0
        return capsys.readouterr().out.split()

    assert complete("natoma-entra --cloud ") == ["global", "usgov", "usgov-dod", "china"]
    assert complete("natoma-entra --cloud usgov") == ["usgov", "usgov-dod"]
    assert complete("natoma-entra --auth ") == ["default", "cli", "client-secret", "certificate", "managed-identity",
                                                "workload-identity", "device-code", "browser", "access-token"]
    assert complete("natoma-entra --sandbox --auth c") == ["cli", "client-secret", "certificate"]
    assert complete("natoma-entra -o ") == ["text", "json", "markdown"]
    assert complete("natoma-entra setup --scope ") == ["assigned", "all"]
    assert complete("natoma-entra --dry-run status --scope a") == ["assigned", "all"]
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "yaml")  # a bad default format does not stop completion
    assert complete("natoma-entra --cloud g") == ["global"]
    from typing import get_args

    from natoma_entra.cli.completion import SCOPES
    from natoma_entra.config import ScimConfig

    assert SCOPES == get_args(ScimConfig.model_fields["scope"].annotation)


def test_output_env_sets_the_default_format(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "json")
    r = sandbox.cli("status")
    doc = r.json()  # stdout is the JSON document, not text
    assert doc["command"] == "status" and "steps" in doc


def test_output_flag_wins_over_the_env(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "json")
    r = sandbox.cli("status", "--output", "text")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.out)
    assert "roles" in r.out


def test_output_env_json_also_shapes_an_early_error(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "json")
    r = sandbox.cli("assign", "--group", "admin=No Such Group")
    assert r.code == 2
    doc = r.json()
    assert doc["ok"] is False and doc["exit_code"] == 2 and "No Such Group" in doc["error"]


def test_a_bad_output_env_value_is_a_usage_error(sandbox, monkeypatch):
    monkeypatch.setenv("NATOMA_ENTRA_OUTPUT", "yaml")
    r = sandbox.cli("status")
    assert r.code == 2
    assert "NATOMA_ENTRA_OUTPUT" in r.err and "yaml" in r.err and r.out == ""
