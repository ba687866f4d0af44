"""Registered clients: create (the key is printed once), list, disable, authenticate.

A key is 32 random bytes (URL-safe base64); the database keeps its SHA-256 only, so a
copy of the database gives nobody a working key. A key is long and random, so a plain
hash (no salt, no slow hash) is enough and lets a request be checked with one indexed read.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.open311.models import ApiClient

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,59}$")


def key_digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_client(
    session: Session, name: str, *, contact: str | None = None, key: str | None = None
) -> tuple[ApiClient, str]:
    """Register a client; returns it and its key (shown to the operator once).

    A disabled client's name may be registered again: the same client (its reports keep
    pointing at it) with a new key, enabled; its old key stays invalid.

    ``key`` is for the demo only (a published key); production keys are always random.
    """
    if not NAME.match(name):
        raise InvalidInput(
            f"client name {name!r}: use 2-60 lower-case letters, digits, '.', '_' or '-'"
        )
    key = key or secrets.token_urlsafe(32)
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is not None and client.is_active:
        raise Conflict(
            f"a client named {name!r} is active: pick another name, or disable it first to "
            "issue it a new key"
        )
    if client is not None:  # a disabled client registered again: a new key, its history kept
        client.key_sha256, client.is_active = key_digest(key), True
        client.contact = contact or client.contact
    else:
        client = ApiClient(name=name, key_sha256=key_digest(key), contact=contact, is_active=True)
        session.add(client)
    session.flush()
    return client, key


def list_clients(session: Session) -> list[ApiClient]:
    """Every registered client, by name."""
    return list(session.scalars(select(ApiClient).order_by(ApiClient.name)))


def set_active(session: Session, name: str, active: bool) -> ApiClient:
    """Disable (or enable again) a client: its key stops (or starts) working at once."""
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise NotFound(f"no client named {name!r}: see `gridmap open311 clients`")
    client.is_active = active
    return client


def authenticate(session: Session, key: str | None) -> ApiClient:
    """The active client holding ``key``; 403 otherwise (as GeoReport v2 answers)."""
    if not key:
        raise Forbidden("api_key is missing: a registered client sends its api_key")
    client = session.scalar(select(ApiClient).where(ApiClient.key_sha256 == key_digest(key)))
    if client is None or not client.is_active:
        raise Forbidden(
            "api_key is not valid: ask the operator for a key (docs/api.md, section Open311)"
        )
    return client
