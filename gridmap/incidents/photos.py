"""Photos attached to incidents (随手拍): checked by content, stored under the data folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from gridmap.errors import InvalidInput
from gridmap.incidents.models import Incident, IncidentPhoto

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_INCIDENT = 9
# What the bytes say, not what the client claims.
SIGNATURES = {
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
}


def sniff(data: bytes) -> tuple[str, str]:
    """The image type of ``data`` (JPEG, PNG or WebP), or InvalidInput."""
    for magic, kind in SIGNATURES.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    raise InvalidInput("a photo must be a JPEG, PNG or WebP image")


def attach(*, session: Session, incident: Incident, data: bytes, photo_dir: Path) -> IncidentPhoto:
    """Store a photo (content-addressed, outside any web root) and record it."""
    if len(data) == 0:
        raise InvalidInput("the photo is empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"a photo may be at most {MAX_BYTES // (1024 * 1024)} MB")
    count = session.query(IncidentPhoto).filter(IncidentPhoto.incident_id == incident.id).count()
    if count >= MAX_PER_INCIDENT:
        raise InvalidInput(f"an incident has at most {MAX_PER_INCIDENT} photos")
    content_type, suffix = sniff(data)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(incident.code) / f"{digest}{suffix}"
    target = photo_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    photo = IncidentPhoto(
        incident_id=incident.id, path=str(relative), content_type=content_type,
        size_bytes=len(data), sha256=digest,
    )  # fmt: skip
    session.add(photo)
    session.flush()
    return photo
