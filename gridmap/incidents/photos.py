"""Photos attached to incidents (随手拍): decoded, re-encoded, stored under the data folder.

A photo is accepted only if Pillow decodes it completely as a JPEG, PNG or WebP image of
sensible size; what is stored is a fresh encoding of the pixels, so bytes hidden after the
image (HTML, PHP, another file) and every metadata tag are gone. The camera's GPS position
and time (EXIF) are kept as data on the photo row — a dispatcher wants to know where a
picture was taken — and the orientation tag is applied to the pixels before it is dropped.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap.calendar import CHINA_TZ
from gridmap.errors import InvalidInput, NotFound
from gridmap.incidents.models import Incident, IncidentPhoto

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_INCIDENT = 9
THUMB_PIXELS = 320  # a thumbnail's longer side
MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo; beyond that it is a decompression bomb
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
DECODE_ERRORS = (
    UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
    Image.DecompressionBombWarning, Image.DecompressionBombError,
)  # fmt: skip
_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867


@dataclass(frozen=True)
class Normalised:
    """A photo re-encoded from its pixels, with what its EXIF said kept as data."""

    data: bytes
    content_type: str
    suffix: str
    width: int
    height: int
    gps_lon: float | None
    gps_lat: float | None
    taken_at: datetime | None


def normalise(data: bytes) -> Normalised:
    """Decode, check and re-encode a photo; InvalidInput for anything that is not one."""
    if not data:
        raise InvalidInput("the photo is empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"a photo may be at most {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            if fmt not in FORMATS:
                raise InvalidInput("a photo must be a JPEG, PNG or WebP image")
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(f"a photo may have at most {MAX_PIXELS:,} pixels")
            exif = image.getexif()
            image.load()  # decodes every byte of the image: truncated or forged data fails here
    except InvalidInput:
        raise
    except DECODE_ERRORS:
        raise InvalidInput("a photo must be a complete JPEG, PNG or WebP image") from None
    gps_lon, gps_lat = _gps(exif)
    taken_at = _taken_at(exif)
    upright: Image.Image = ImageOps.exif_transpose(image) or image
    image = upright  # type: ignore[assignment]
    out = io.BytesIO()
    content_type, suffix = FORMATS[fmt]
    if fmt == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=90, optimize=True)
    elif fmt == "PNG":
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format="WEBP", quality=90)
    return Normalised(
        out.getvalue(), content_type, suffix, image.width, image.height, gps_lon, gps_lat, taken_at
    )


def _ratio(value: object) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return float(value[0]) / float(value[1]) if value[1] else 0.0
    return float(value)  # type: ignore[arg-type]


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    try:
        gps = exif.get_ifd(_GPS_IFD)
        lat_ref, lat, lon_ref, lon = gps.get(1), gps.get(2), gps.get(3), gps.get(4)
        if not (lat and lon):
            return None, None
        to_deg = lambda d: _ratio(d[0]) + _ratio(d[1]) / 60 + _ratio(d[2]) / 3600  # noqa: E731
        y, x = to_deg(lat), to_deg(lon)
        y = -y if str(lat_ref).upper().startswith("S") else y
        x = -x if str(lon_ref).upper().startswith("W") else x
        if -90 <= y <= 90 and -180 <= x <= 180:
            return round(x, 7), round(y, 7)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        pass
    return None, None


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(306)
        if not raw:
            return None
        # EXIF times carry no zone; phones in China record China time
        local = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        return local.replace(tzinfo=CHINA_TZ)
    except (ValueError, TypeError, KeyError):
        return None


def attach(
    *,
    session: Session,
    incident: Incident,
    data: bytes,
    photo_dir: Path,
    created_by_id: int | None = None,
) -> tuple[IncidentPhoto, bool]:
    """Store a photo (content-addressed, outside any web root) and record it; ``True`` if new.

    The same photo sent again to the same incident (an upload whose answer was lost, then
    retried from the phone's queue) is the photo already recorded: it is returned with
    ``False``, not stored twice (:func:`same_photo`).
    """
    photo = normalise(data)
    digest = hashlib.sha256(photo.data).hexdigest()
    again = same_photo(session, incident, digest)
    if again is not None:
        return again, False
    count = session.scalar(
        select(func.count())
        .select_from(IncidentPhoto)
        .where(IncidentPhoto.incident_id == incident.id)
    )
    if (count or 0) >= MAX_PER_INCIDENT:
        raise InvalidInput(f"an incident has at most {MAX_PER_INCIDENT} photos")
    relative = Path(incident.code) / f"{digest}{photo.suffix}"
    target = photo_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(photo.data)
        tmp.replace(target)
    row = IncidentPhoto(
        incident_id=incident.id, path=str(relative), content_type=photo.content_type,
        size_bytes=len(photo.data), sha256=digest, width=photo.width, height=photo.height,
        gps_lon=photo.gps_lon, gps_lat=photo.gps_lat, taken_at=photo.taken_at,
        created_by_id=created_by_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    thumbnail(photo_dir, row)
    return row, True


def same_photo(session: Session, incident: Incident, digest: str) -> IncidentPhoto | None:
    """The incident's photo with these bytes (after re-encoding), if it has one."""
    return session.scalar(
        select(IncidentPhoto)
        .where(IncidentPhoto.incident_id == incident.id, IncidentPhoto.sha256 == digest)
        .order_by(IncidentPhoto.id)
        .limit(1)
    )


def of_incident(session: Session, incident: Incident) -> list[IncidentPhoto]:
    """The photos of an incident, oldest first."""
    return list(
        session.scalars(
            select(IncidentPhoto)
            .where(IncidentPhoto.incident_id == incident.id)
            .order_by(IncidentPhoto.id)
        )
    )


def one(session: Session, incident: Incident, photo_id: int) -> IncidentPhoto:
    """A photo of this incident (404 for another incident's, so ids cannot be probed)."""
    row = session.scalar(
        select(IncidentPhoto).where(
            IncidentPhoto.id == photo_id, IncidentPhoto.incident_id == incident.id
        )
    )
    if row is None:
        raise NotFound(f"incident {incident.code} has no photo {photo_id}")
    return row


def thumbnail(photo_dir: Path, row: IncidentPhoto) -> tuple[Path, str]:
    """The thumbnail of a stored photo (path, content type), made once and kept beside it.

    At most :data:`THUMB_PIXELS` on its longer side; a PNG stays a PNG (sharp lines,
    transparency), anything else becomes a JPEG. A photo stored before thumbnails existed
    gets one on first read.
    """
    source = photo_dir / row.path
    png = row.content_type == "image/png"
    target = source.with_name(f"{source.stem}.thumb{'.png' if png else '.jpg'}")
    if not target.exists():
        with Image.open(source) as image:
            image.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
            out = io.BytesIO()
            if png:
                image.save(out, format="PNG", optimize=True)
            else:
                image.convert("RGB").save(out, format="JPEG", quality=80)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(out.getvalue())
        tmp.replace(target)
    return target, "image/png" if png else "image/jpeg"
