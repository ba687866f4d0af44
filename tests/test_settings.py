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
