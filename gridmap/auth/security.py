"""Password hashing (argon2id) and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridmap.auth.models import Role
from gridmap.errors import NotAuthenticated

_hasher = PasswordHasher()
_ALGORITHM = "HS256"
_AUDIENCE = "gridmap"
MAX_USER_ID = 2**31 - 1  # the id column is a PostgreSQL integer
# argon2 is slow and memory-hard on purpose; one hash at a time per process keeps a burst of
# sign-in attempts from taking every core away from the other requests
_hashing = threading.BoundedSemaphore(1)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    with _hashing:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash``."""
    with _hashing:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class TokenClaims:
    """What a bearer token says about its holder."""

    user_id: int
    username: str
    role: Role
    area_code: str
    expires_at: datetime
    version: int = 1


def create_token(
    *,
    secret: str,
    user_id: int,
    username: str,
    role: Role,
    area_code: str,
    minutes: int,
    version: int = 1,
    now: datetime | None = None,
) -> str:
    """A signed token valid for ``minutes``."""
    issued = now or datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "name": username,
        "role": role.value,
        "area": area_code,
        "ver": version,
        "aud": _AUDIENCE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def decode_token(token: str, *, secret: str) -> TokenClaims:
    """Check a token's signature and expiry (signatures checked once per token, then cached).

    Raises
    ------
    NotAuthenticated
        If the token is expired, forged or malformed.
    """
    claims = _verified(token, secret)
    if claims.expires_at <= datetime.now(UTC):
        raise NotAuthenticated("the access token has expired: sign in again")
    return claims


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: str) -> TokenClaims:
    """A token whose signature checked out (a forged one raises and is not cached)."""
    try:
        payload = jwt.decode(token, secret, algorithms=[_ALGORITHM], audience=_AUDIENCE)
        user_id = int(payload["sub"])
        version = int(payload.get("ver", 1))
        if not (1 <= user_id <= MAX_USER_ID and 1 <= version <= MAX_USER_ID):
            raise ValueError("out of range")
        return TokenClaims(
            user_id=user_id,
            username=str(payload["name"]),
            role=Role(payload["role"]),
            area_code=str(payload["area"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            version=version,
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("the access token has expired: sign in again") from None
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, OverflowError):
        raise NotAuthenticated("the access token is not valid: sign in again") from None
