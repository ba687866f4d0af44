"""The audit log: who read personal data unmasked (and why), who was refused, who changed what.

Allowed reads are recorded in the request's own transaction (committed with it); refusals
are recorded in a transaction of their own, because the request's rolls back.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy.orm import Session, sessionmaker

from gridmap.auth.models import AuditLog
from gridmap.ops import counters
from gridmap.scope import Actor

MIN_REASON = 4  # characters: "核查走访" is enough, "x" is not
UNMASKED_READ = "read_unmasked"  # the action of an allowed unmasked read


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str | None,
    detail: dict[str, object] | None = None,
    reason: str | None = None,
    client_ip: str | None = None,
) -> None:
    """Add an audit row to the session's transaction (an unmasked read is also counted)."""
    if action == UNMASKED_READ:
        counters.UNMASK_READS.inc()
    address: str | None = None
    if client_ip:
        try:
            address = str(ipaddress.ip_address(client_ip))
        except ValueError:  # not an address (a test client, a socket): keep it as detail
            detail = {**(detail or {}), "client": client_ip[:100]}
    session.add(
        AuditLog(
            user_id=actor.user_id if actor else None,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            reason=reason,
            client_ip=address,
        )
    )


def record_apart(factory: sessionmaker[Session], **row: object) -> None:
    """Record an audit row in a transaction of its own (for refused attempts)."""
    with factory.begin() as session:
        record(session, **row)  # type: ignore[arg-type]
