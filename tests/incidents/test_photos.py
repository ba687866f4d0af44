"""Photos: checked by content and size, stored under the data folder."""

import io
from pathlib import Path

from PIL import Image

from tests.helpers import assert_problem
from tests.world import report


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def upload(client, code, data, name="photo.jpg", headers=None):
    return client.post(
        f"/api/v1/incidents/{code}/photos",
        files={"photo": (name, data, "image/jpeg")},
        headers=headers or {},
    )


def test_a_photo_is_re_encoded_and_stored_under_the_data_folder(client, world, settings):
    inc = report(client, world).json()
    data = png_bytes()
    r = upload(client, inc["code"], data, headers=world.auth("grid"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == "image/png" and (body["width"], body["height"]) == (4, 4)
    stored = Path(settings.data_dir) / "photos" / inc["code"] / f"{body['sha256']}.png"
    assert len(stored.read_bytes()) == body["size_bytes"]
    with Image.open(stored) as again:  # the same pixels, freshly encoded
        assert again.getpixel((1, 1)) == (200, 30, 30)


def test_the_same_photo_sent_again_is_the_one_recorded(client, world):
    """A retry after a lost answer (the phone's queue) never stores the photo twice."""
    inc = report(client, world).json()
    first = upload(client, inc["code"], png_bytes(), headers=world.auth("grid"))
    again = upload(client, inc["code"], png_bytes(), headers=world.auth("grid"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    listed = client.get(f"/api/v1/incidents/{inc['code']}/photos", headers=world.auth("grid"))
    assert [p["id"] for p in listed.json()] == [first.json()["id"]]
    other = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 200, 30)).save(other, format="PNG")
    assert (
        upload(client, inc["code"], other.getvalue(), headers=world.auth("grid")).status_code == 201
    )


def test_not_an_image_or_too_large_is_422(client, world):
    inc = report(client, world).json()
    assert_problem(
        upload(client, inc["code"], b"#!/bin/sh\nrm -rf /\n", headers=world.auth("grid")),
        422,
        "invalid_input",
    )
    big = png_bytes() + b"\0" * (10 * 1024 * 1024)
    assert_problem(
        upload(client, inc["code"], big, headers=world.auth("grid")), 422, "invalid_input"
    )


def test_citizens_add_photos_only_with_the_token_of_their_own_report(client, world):
    own = report(client, world, who=None, channel="citizen_app").json()
    token = {"X-Citizen-Token": own["citizen_token"]}
    assert upload(client, own["code"], png_bytes()).status_code == 404  # no token
    assert upload(client, own["code"], png_bytes(), headers=token).status_code == 201
    other = report(client, world, who=None, channel="citizen_app", description="另一件").json()
    assert other["citizen_token"] != own["citizen_token"]
    assert_problem(upload(client, other["code"], png_bytes(), headers=token), 404, "not_found")
    staff = report(client, world).json()
    assert "citizen_token" not in staff or staff["citizen_token"] is None
    assert_problem(upload(client, staff["code"], png_bytes(), headers=token), 404, "not_found")


def test_a_non_ascii_citizen_token_is_refused_not_an_error(client, world):
    """The constant-time comparison raised on non-ASCII text (a 500): bytes are compared."""
    own = report(client, world, who=None, channel="citizen_app").json()
    header = {"X-Citizen-Token": "令牌".encode()}  # UTF-8 bytes: the server reads latin-1
    assert_problem(upload(client, own["code"], png_bytes(), headers=header), 404, "not_found")
