"""Offline edits' ids (``client_id``): one id names one edit of one user.

A phone gives each edit it makes offline an id and uploads it, perhaps more than once (the
answer was lost, the sync ran twice, the worker pressed again). The first upload is applied
and remembered (``offline_edit``) with what it was: the kind of edit (``KINDS``), its target
(the household, unit, task row … named in the path) and a digest of its content. A later
upload with the same id is a *replay* only if all three are the same: it answers what the
first did and changes nothing. The same id used for anything else is refused (409
``client_id_reused``) naming what it was first used for — answering it with the first
edit's object would hand the phone an object other than the one it edited.

Every offline-capable edit (registry edits, visits, task rows; directly or through the
sync) asks :func:`replayed` before doing anything and calls :func:`remember` once done.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.errors import Conflict, NotFound
from gridmap.registry.models import OfflineEdit
from gridmap.scope import Actor

KINDS = (
    "register_household", "register_person", "move_household", "household_moved_out",
    "set_person_status", "update_person", "update_work_unit", "visit", "complete_task_row",
)  # fmt: skip


class ClientIdReused(Conflict):
    """A ``client_id`` already used by this user for another edit."""

    code = "client_id_reused"
    title = "Client id reused"


@dataclass(frozen=True)
class Upload:
    """An edit as a phone sent it: its id, kind, target and a digest of its content."""

    client_id: str | None
    kind: str
    target_id: int | None
    digest: str


def digest(data: BaseModel) -> str:
    """A digest of what an edit says, its ``client_id`` left out.

    Taken over the validated model, so key order, defaults left out and the order of tags
    (sorted by the schema) do not change it; a different value does.
    """
    content = data.model_dump(mode="json", exclude={"client_id"})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def upload(kind: str, target_id: int | None, data: BaseModel) -> Upload:
    """The upload of ``data`` as an edit of ``kind`` on ``target_id``."""
    assert kind in KINDS, kind
    return Upload(getattr(data, "client_id", None), kind, target_id, digest(data))


def _describe(kind: str, target_id: int | None) -> str:
    return kind if target_id is None else f"{kind} of {target_id}"


def replayed(session: Session, actor: Actor, edit: Upload) -> OfflineEdit | None:
    """The first use of ``edit``'s id if ``edit`` is a replay of it; None for a new id.

    Concurrent uploads of one id wait for each other (a lock on (user, id) until the end of
    the transaction), so the second sees what the first stored.

    Raises
    ------
    ClientIdReused
        The id was first used for another kind of edit, another target or other content.
    NotFound
        A replay whose object is no longer in the user's area.
    """
    if edit.client_id is None:
        return None
    lock = func.pg_advisory_xact_lock(actor.user_id, func.hashtext(edit.client_id))
    session.execute(select(lock))
    first = session.get(OfflineEdit, (actor.user_id, edit.client_id))
    if first is None:
        return None
    same_edit = (first.kind, first.target_id) == (edit.kind, edit.target_id)
    if not same_edit or first.digest not in (None, edit.digest):
        used = _describe(first.kind, first.target_id)
        how = (
            "with different content"
            if same_edit
            else f"not for {_describe(edit.kind, edit.target_id)}"
        )
        raise ClientIdReused(
            f"client_id {edit.client_id!r} was used on {first.at:%Y-%m-%d %H:%M} for {used}, "
            f"{how}: an id names one edit — give this edit an id of its own",
            client_id=edit.client_id,
            first_use={"kind": first.kind, "target_id": first.target_id},
        )
    if not actor.covers(first.grid_code):
        raise NotFound(f"there is no {first.object_type} {first.object_id} in your area")
    return first


def remember(
    session: Session, actor: Actor, edit: Upload, *, object_type: str, object_id: int,
    grid_code: str | None, event_id: int | None = None,
) -> None:  # fmt: skip
    """Record the first use of ``edit``'s id (nothing for an edit without one)."""
    if edit.client_id is None:
        return
    session.add(
        OfflineEdit(
            actor_id=actor.user_id, client_id=edit.client_id, kind=edit.kind,
            target_id=edit.target_id, digest=edit.digest, object_type=object_type,
            object_id=object_id, event_id=event_id, grid_code=grid_code,
        )
    )  # fmt: skip
    session.flush()
