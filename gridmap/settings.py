"""Typed settings (prefix ``GRIDMAP_``), built by the caller, never at import time."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"


class Settings(BaseSettings):
    """Everything gridmap reads from the environment.

    With no ``database_url`` gridmap uses its embedded PostGIS cluster under ``data_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of a PostGIS database; empty = embedded cluster."
    )
    data_dir: Path = Field(
        default=Path(".gridmap"), description="Embedded cluster, photos, indexes."
    )
    db_port: int = Field(default=55432, ge=1024, le=65535, description="Embedded cluster TCP port.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: AnyHttpUrl | None = Field(
        default=None,
        description="Where clients reach the server (e.g. https://grid.example.cn): the absolute "
        "links of the OGC and Open311 answers; default: http://<host>:<port>. Never the Host "
        "header a client sends.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies whose X-Forwarded-For/-Proto are believed: addresses or "
        "networks, comma-separated (e.g. 127.0.0.1 or 10.0.0.0/8); empty: none, so a client "
        "cannot choose the address its rate limits count",
    )
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    token_minutes: int = Field(default=8 * 60, ge=1)
    tile_url: str | None = Field(
        default=None, description="Base map tile URL template; none by default (offline intranets)."
    )
    tile_attribution: str = ""
    tile_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="gcj02 for AMap/Tencent tiles: data is shifted to match"
    )
    map_lang: Literal["zh", "en"] = Field(default="zh", description="Map labels by default")
    map_refresh_seconds: int = Field(default=30, ge=5, le=3600, description="Map auto-refresh")
    calendar_file: Path | None = Field(
        default=None, description="Working days, one ISO date a line; default: China's calendar"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # reminders: how often a notification stream looks for new ones, and how long it lives
    # (the client reconnects with Last-Event-ID; a revoked token ends it at the next look)
    notification_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    notification_stream_seconds: int = Field(default=300, ge=1, le=3600)
    # abuse limits (docs/security.md); every worker process shares the counters
    rate_limits_enabled: bool = True
    rate_sign_in_client: str = Field(
        default="20/minute", description="Sign-in attempts per address"
    )
    # failed sign-ins (gridmap/auth/lockout.py): delays per (account, address), a lock for
    # the account only when many addresses fail on it
    rate_sign_in_free_failures: int = Field(
        default=5, ge=1, le=100, description="Failures per account and address before delays"
    )
    rate_sign_in_delay_seconds: int = Field(
        default=60, ge=1, le=86_400, description="First delay; doubles with each failure"
    )
    rate_sign_in_max_delay_seconds: int = Field(
        default=1800, ge=1, le=86_400, description="The longest delay"
    )
    rate_sign_in_lock_addresses: int = Field(
        default=10, ge=2, le=100_000, description="Failing addresses that lock an account"
    )
    rate_sign_in_lock_seconds: int = Field(
        default=900, ge=1, le=86_400, description="Window those addresses are counted in"
    )
    rate_anonymous_intake: str = Field(
        default="30/minute", description="Anonymous reports (citizen port) per address"
    )
    rate_unmask: str = Field(default="60/hour", description="Unmasked reads per user")
    rate_open311_intake: str = Field(
        default="120/minute", description="Reports per registered Open311 client"
    )
    # the change-impact report of a draft (about 24 s city-wide): computations at once per
    # process, and how long a report is kept and answered from memory
    plan_impact_slots: int = Field(default=1, ge=1, le=64)
    plan_impact_cache_seconds: int = Field(default=300, ge=0, le=86_400)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="JSON and form bodies")
    max_upload_bytes: int = Field(
        default=11 * 1024 * 1024, ge=1024, description="Multipart bodies (photos, files)"
    )
    # load (docs/security.md, "How the server sheds load"): per worker process
    max_concurrent_requests: int = Field(
        default=8, ge=1, le=256, description="Requests worked on at once per worker process"
    )
    max_queued_requests: int = Field(
        default=256, ge=0, le=10_000, description="Requests waiting for a slot; past it 503"
    )
    queue_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Longest wait for a slot before a 503"
    )
    max_streams: int = Field(
        default=256, ge=1, le=10_000, description="Open event streams per worker process"
    )
    body_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Longest time a request body may take to arrive"
    )
    backup_dir: Path | None = Field(
        default=None,
        description="Backups of the embedded cluster (`gridmap backup`): its WAL is archived "
        "there continuously once set (restart the database); a mount of its own, not the data "
        "folder's disk",
    )
    backup_keep: int = Field(default=7, ge=1, le=365, description="Base backups kept by prune")
    metrics_networks: str = Field(
        default="",
        description="Addresses or networks allowed to read /metrics without signing in "
        "(the Prometheus server, e.g. 10.0.0.5 or 10.0.0.0/24), comma-separated; empty: only a "
        "signed-in city administrator",
    )
    log_json: bool = Field(
        default=True, description="Logs as JSON lines on stderr (off: the libraries' own format)"
    )
    public_docs: bool | None = Field(
        default=None, description="Serve /docs and /openapi.json; default: not in production"
    )

    @property
    def docs_enabled(self) -> bool:
        """True if the API docs are served (by default everywhere but production)."""
        if self.public_docs is not None:
            return self.public_docs
        return self.environment != "production"

    @property
    def base_url(self) -> str:
        """Where clients reach this server: ``public_url``, else the address it listens on."""
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def server_options(self) -> dict[str, Any]:
        """The server's proxy options: X-Forwarded-* believed from ``trusted_proxies`` only.

        uvicorn's own default believes them from 127.0.0.1, so anyone on the machine, or
        anything relaying from it, could pick the address the rate limits count.
        """
        proxies = self.trusted_proxies.strip()
        return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}

    @model_validator(mode="after")
    def _proxies_parse(self) -> Settings:
        import ipaddress

        for item in filter(None, (p.strip() for p in self.trusted_proxies.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"GRIDMAP_TRUSTED_PROXIES: {item!r} is not an address or network: list the "
                    'proxies, e.g. 127.0.0.1,10.0.0.0/8 ("*" would believe every client)'
                ) from None
        self.metrics_allowed("127.0.0.1")  # the networks parse, or the settings are refused
        return self

    def metrics_allowed(self, address: str) -> bool:
        """Whether a client at ``address`` may read /metrics without signing in."""
        import ipaddress

        networks = []
        for item in filter(None, (p.strip() for p in self.metrics_networks.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"GRIDMAP_METRICS_NETWORKS: {item!r} is not an address or network: list "
                    "the scrapers, e.g. 10.0.0.5,10.0.0.0/24"
                ) from None
        try:
            client = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(client in network for network in networks)

    @model_validator(mode="after")
    def _rate_limits_parse(self) -> Settings:
        import limits

        for name in ("rate_sign_in_client", "rate_anonymous_intake", "rate_unmask",
                     "rate_open311_intake"):  # fmt: skip
            value = getattr(self, name)
            try:
                limits.parse(value)
            except ValueError:
                raise ValueError(
                    f"GRIDMAP_{name.upper()}={value!r} is not a rate: write e.g. 20/minute"
                ) from None
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key.get_secret_value() in {PLACEHOLDER_SECRET, ""}
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "GRIDMAP_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self


def with_local_secret(settings: Settings) -> Settings:
    """Outside production, replace the placeholder secret with one kept in the data folder.

    Generated once (``<data_dir>/secret_key``, mode 600), so tokens survive restarts and
    every worker process signs with the same key, and no short, public key is ever used.
    """
    if (
        settings.environment == "production"
        or settings.secret_key.get_secret_value() != PLACEHOLDER_SECRET
    ):
        return settings
    path = settings.data_dir / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    secret = ""
    for _ in range(50):  # another worker may be writing it this very moment
        secret = path.read_text().strip()
        if secret:
            break
        time.sleep(0.01)
    return settings.model_copy(update={"secret_key": SecretStr(secret)})
