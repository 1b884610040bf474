"""Config: defaults < file < environment < flags; unknown keys and secrets in the file are refused."""
from pathlib import Path

import pytest

from natoma_entra.config import Config, load
from natoma_entra.errors import UsageError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "natoma-entra.toml"
    p.write_text(text)
    return p


def test_file_values_are_read(tmp_path):
    p = write(tmp_path, 'app = "Natoma"\ntenant = "contoso.onmicrosoft.com"\n[groups]\nadmin = ["Natoma Admins"]\n'
                        '[scim]\nurl = "https://example.natoma.app/scim/v2"\nscope = "assigned"\n')
    c = load(p, {}, env={})
    assert c.app == "Natoma" and c.tenant == "contoso.onmicrosoft.com"
    assert c.groups == {"admin": ["Natoma Admins"]}
    assert c.scim.url == "https://example.natoma.app/scim/v2"


def test_flags_win_over_the_environment_and_the_environment_over_the_file(tmp_path):
    """flags > environment > file > defaults, as az, gh and kubectl: a CI job overrides one value of a committed
    file with a variable (issue 26)."""
    p = write(tmp_path, 'app = "FromFile"\ncloud = "usgov"\nauth = "cli"\n[scim]\nurl = "https://file.example/scim/v2"\n')
    env = {"NATOMA_ENTRA_APP": "FromEnv", "NATOMA_ENTRA_CLOUD": "china", "NATOMA_ENTRA_TENANT": "env-tenant",
           "NATOMA_SCIM_URL": "https://env.example/scim/v2"}
    c = load(p, {"app": "FromFlag", "cloud": None}, env=env, defaults={"tenant": "default-tenant", "auth": "default",
                                                                        "graph_endpoint": "https://graph.example/v1.0"})
    assert c.app == "FromFlag"  # flag over environment (and file)
    assert c.cloud == "china"  # environment over file
    assert c.scim.url == "https://env.example/scim/v2"  # environment over file, in a table too
    assert c.auth == "cli"  # file over built-in defaults
    assert c.tenant == "env-tenant"  # environment over built-in defaults
    assert c.graph_endpoint == "https://graph.example/v1.0"  # defaults: the weakest source


def test_default_config_file_in_working_directory_is_used(tmp_path, monkeypatch):
    write(tmp_path, 'app = "Here"\n')
    monkeypatch.chdir(tmp_path)
    assert load(None, {}, env={}).app == "Here"


def test_flag_groups_replace_the_file_groups(tmp_path):
    p = write(tmp_path, '[groups]\nadmin = ["A"]\nmember = ["M"]\n')
    c = load(p, {"groups": {"AppAdmin": ["X"]}}, env={})
    assert c.groups == {"AppAdmin": ["X"]}


def test_unknown_key_names_key_and_file(tmp_path):
    p = write(tmp_path, 'app = "Natoma"\napps = "typo"\n')
    with pytest.raises(UsageError) as e:
        load(p, {}, env={})
    assert "apps" in str(e.value) and str(p) in str(e.value)


def test_unknown_nested_key_is_named(tmp_path):
    p = write(tmp_path, '[scim]\nurll = "https://x.example/scim"\n')
    with pytest.raises(UsageError) as e:
        load(p, {}, env={})
    assert "scim.urll" in str(e.value)


def test_token_literal_in_file_is_refused_without_echoing_it(tmp_path):
    p = write(tmp_path, '[scim]\nurl = "https://x.example/scim"\ntoken = "fake-scim-token-literal"\n')
    with pytest.raises(UsageError) as e:
        load(p, {}, env={})
    assert "scim.token" in str(e.value) and str(p) in str(e.value)
    assert "fake-scim-token-literal" not in str(e.value)


@pytest.mark.parametrize("url", ["http://natoma.example/scim", "ftp://x/scim", "natoma.example/scim", "/scim/v2"])
def test_scim_url_must_be_absolute_https(tmp_path, url):
    p = write(tmp_path, f'[scim]\nurl = "{url}"\n')
    with pytest.raises(UsageError):
        load(p, {}, env={})


def test_scim_url_http_allowed_on_loopback(tmp_path):
    p = write(tmp_path, '[scim]\nurl = "http://127.0.0.1:8080/scim/v2"\n')
    assert load(p, {}, env={}).scim.url == "http://127.0.0.1:8080/scim/v2"


def test_role_keys_are_case_sensitive_with_a_hint(tmp_path):
    p = write(tmp_path, '[groups]\nAdmin = ["Natoma Admins"]\n')
    with pytest.raises(UsageError) as e:
        load(p, {}, env={})
    assert "'admin'" in str(e.value)


def test_invalid_toml_is_a_usage_error(tmp_path):
    p = write(tmp_path, 'app = \n')
    with pytest.raises(UsageError) as e:
        load(p, {}, env={})
    assert "not valid TOML" in str(e.value)


def test_bad_cloud_from_environment_names_the_source():
    with pytest.raises(UsageError) as e:
        load(None, {}, env={"NATOMA_ENTRA_CLOUD": "mars"})
    assert "environment" in str(e.value)


def test_group_pairs_in_role_order_without_repeats():
    c = Config(groups={"member": ["M", "M"], "admin": ["A"]})
    assert c.group_pairs() == [("admin", "A"), ("member", "M")]


def test_example_config_is_valid():
    example = Path(__file__).parents[2] / "examples" / "natoma-entra.toml"
    c = load(example, {}, env={})
    assert c.app and c.groups and c.scim.url


def test_a_token_pasted_as_token_env_is_refused_without_echoing_it(tmp_path):
    p = write(tmp_path, '[scim]\ntoken_env = "abcd-my-real-scim-token-1234"\n')
    with pytest.raises(UsageError) as e:
        load(p, {}, env={})
    assert "scim.token_env" in str(e.value) and "NAME of an environment variable" in str(e.value)
    assert "abcd-my-real-scim-token-1234" not in str(e.value) + (e.value.fix or "")
