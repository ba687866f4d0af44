import pytest
from pydantic import ValidationError

from gridmap.settings import Settings


def test_placeholder_secret_is_refused_in_production():
    with pytest.raises(ValidationError, match="GRIDMAP_SECRET_KEY"):
        Settings(environment="production")


def test_short_secret_is_refused_in_production():
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(environment="production", secret_key="short")


def test_development_accepts_placeholder_and_reads_env(monkeypatch):
    monkeypatch.setenv("GRIDMAP_DB_PORT", "56001")
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = Settings()
    assert s.db_port == 56001 and s.database_url == "postgresql+psycopg://u@h/db"


def test_settings_are_not_built_at_import():
    import api.app

    assert not any(isinstance(v, Settings) for v in vars(api.app).values())


def test_local_secret_replaces_the_placeholder_once(tmp_path):
    from gridmap.settings import PLACEHOLDER_SECRET, with_local_secret

    first = with_local_secret(Settings(data_dir=tmp_path))
    second = with_local_secret(Settings(data_dir=tmp_path))
    key = first.secret_key.get_secret_value()
    assert key != PLACEHOLDER_SECRET and len(key) >= 32
    assert second.secret_key.get_secret_value() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    explicit = Settings(data_dir=tmp_path, secret_key="x" * 40)
    assert with_local_secret(explicit).secret_key.get_secret_value() == "x" * 40


@pytest.mark.parametrize("proxies", ["*", "proxy.local", "10.0.0.0/33"])
def test_trusted_proxies_must_be_addresses_or_networks(proxies):
    with pytest.raises(ValidationError, match="GRIDMAP_TRUSTED_PROXIES"):
        Settings(trusted_proxies=proxies)


def test_no_proxy_is_trusted_by_default():
    """uvicorn's own default believes X-Forwarded-For from 127.0.0.1."""
    assert Settings().server_options() == {"proxy_headers": False, "forwarded_allow_ips": None}
    behind = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8").server_options()
    assert behind == {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1, 10.0.0.0/8"}


def test_the_base_url_is_the_public_url_or_the_address_listened_on():
    assert Settings().base_url == "http://127.0.0.1:8000"
    assert Settings(host="::1", port=9000).base_url == "http://[::1]:9000"
    assert Settings(public_url="https://grid.example.cn/").base_url == "https://grid.example.cn"
    with pytest.raises(ValidationError):
        Settings(public_url="javascript:alert(1)")


def test_serve_runs_uvicorn_with_the_proxy_settings(monkeypatch, db_url):
    import uvicorn
    from typer.testing import CliRunner

    from gridmap.cli import app

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.delenv("GRIDMAP_TRUSTED_PROXIES", raising=False)
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", db_url)  # serve checks the database first
    monkeypatch.setenv("GRIDMAP_HOST", "127.0.0.1")  # serve writes the address it listens on:
    monkeypatch.setenv("GRIDMAP_PORT", "8000")  # restored after the test
    assert CliRunner().invoke(app, ["serve", "--port", "8123"]).exit_code == 0
    monkeypatch.setenv("GRIDMAP_TRUSTED_PROXIES", "10.1.2.3")
    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    assert [(c["proxy_headers"], c["forwarded_allow_ips"]) for c in calls] == [
        (False, None), (True, "10.1.2.3")]  # fmt: skip
    assert calls[0]["port"] == 8123 and Settings().base_url.endswith(":8123")


def _cli(monkeypatch, *args, **env):
    import uvicorn
    from typer.testing import CliRunner

    from gridmap.cli import app

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: served.append(kw))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, list(args))
    return result, served


def said(result) -> str:
    return " ".join(result.output.split())  # the console wraps long lines


@pytest.mark.parametrize(("variable", "value"), [("GRIDMAP_PORT", "abc"),
                                                 ("GRIDMAP_TRUSTED_PROXIES", "*"),
                                                 ("GRIDMAP_ENVIRONMENT", "prod")])  # fmt: skip
def test_a_bad_setting_is_a_message_naming_the_variable(monkeypatch, variable, value):
    result, served = _cli(monkeypatch, "db", "url", **{variable: value})
    assert result.exit_code == 1 and served == []
    assert variable in said(result) and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_serve_on_a_stopped_embedded_database_says_how_to_start_it(monkeypatch, tmp_path):
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    result, served = _cli(
        monkeypatch, "serve", GRIDMAP_DATA_DIR=str(tmp_path), GRIDMAP_DB_PORT="55999"
    )
    assert result.exit_code == 1 and served == []
    assert "gridmap db start" in said(result), result.output


def test_serve_on_an_unreachable_database_says_so(monkeypatch):
    url = "postgresql+psycopg://postgres@127.0.0.1:9/gridmap?connect_timeout=2"
    result, served = _cli(monkeypatch, "serve", GRIDMAP_DATABASE_URL=url)
    assert result.exit_code == 1 and served == []
    assert "cannot reach the database" in said(result), result.output


def test_serve_on_an_unmigrated_database_says_to_migrate(monkeypatch, pg_cluster):
    name = "serve_unmigrated"
    pg_cluster.drop_database(name)
    pg_cluster.create_database(name)
    try:
        result, served = _cli(monkeypatch, "serve", GRIDMAP_DATABASE_URL=pg_cluster.url(name))
        assert result.exit_code == 1 and served == []
        assert "gridmap migrate" in said(result), result.output
    finally:
        pg_cluster.drop_database(name)
