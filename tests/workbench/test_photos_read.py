"""Reading an incident's photos (issue 26): the list with EXIF GPS, the file, the thumbnail."""

import io

from PIL import Image

from tests.helpers import assert_problem
from tests.incidents.test_photos import png_bytes, upload
from tests.world import inside, report


def jpeg_with_gps(lon=118.6, lat=24.9, size=(1200, 800)) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    exif = image.getexif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (int(lat), int(lat * 60) % 60, 0.0),
                3: "E", 4: (int(lon), int(lon * 60) % 60, 0.0)})  # fmt: skip
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def test_the_photo_list_gives_urls_thumbnails_and_gps(client, world, settings):
    inc = report(client, world).json()
    code, auth = inc["code"], world.auth("t1")
    assert upload(client, code, jpeg_with_gps(), headers=world.auth("grid")).status_code == 201
    assert upload(client, code, png_bytes(), headers=world.auth("grid")).status_code == 201
    r = client.get(f"/api/v1/incidents/{code}/photos", headers=auth)
    assert r.status_code == 200, r.text
    jpeg, png = r.json()
    assert jpeg["gps"] == [118.6, 24.9] and png["gps"] is None
    assert jpeg["content_type"] == "image/jpeg" and png["content_type"] == "image/png"
    full = client.get(jpeg["url"], headers=auth)
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert len(full.content) == jpeg["bytes"]
    thumb = client.get(jpeg["thumb_url"], headers=auth)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert max(small.size) == 320 and small.size == (320, 213)
    # made once, kept beside the photo
    kept = list((settings.data_dir / "photos" / code).glob("*.thumb.jpg"))
    assert len(kept) == 1 and kept[0].read_bytes() == thumb.content
    small_png = client.get(png["thumb_url"], headers=auth)
    assert small_png.headers["content-type"] == "image/png"


def test_photos_are_scoped_like_the_incident(client, world):
    inc = report(client, world).json()
    assert upload(client, inc["code"], png_bytes(), headers=world.auth("grid")).status_code == 201
    photo = client.get(f"/api/v1/incidents/{inc['code']}/photos", headers=world.auth("t1"))
    url = photo.json()[0]["url"]
    for path in (f"/api/v1/incidents/{inc['code']}/photos", url, url + "?thumb=1"):
        assert_problem(client.get(path, headers=world.auth("t2")), 404, "not_found")
        assert client.get(path).status_code == 401
    # another incident's photo id under this code: not found
    east = report(client, world, who="t2", lon=inside(2, 1)[0], lat=inside(2, 1)[1]).json()
    r = client.get(url.replace(inc["code"], east["code"]), headers=world.auth("t2"))
    assert_problem(r, 404, "not_found")
