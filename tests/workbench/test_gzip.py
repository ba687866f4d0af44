"""JSON and GeoJSON answers are gzip-compressed when the client accepts it (issue 26, 8)."""

import gzip

from tests.world import report


def raw_get(client, path, headers, **params):
    """The answer as sent: httpx would decompress it, so read the raw stream."""
    with client.stream("GET", path, headers=headers, params=params) as r:
        body = b"".join(r.iter_raw())
        return r, body


def test_json_and_geojson_are_compressed_when_accepted(client, world):
    for _ in range(5):
        report(client, world)
    auth = world.auth("county")
    r, body = raw_get(client, "/api/v1/incidents", auth | {"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    plain = client.get("/api/v1/incidents", headers=auth | {"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(body) < len(plain.content) / 3
    assert gzip.decompress(body) == plain.content
    r, body = raw_get(client, "/api/v1/layers/incidents/features",
                      auth | {"Accept-Encoding": "gzip"},
                      bbox="118.5,24.8,118.7,25.0", zoom=17)  # fmt: skip
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b'{"type":"FeatureCollection"')


def test_small_answers_stay_as_they_are(client, world):
    r, _ = raw_get(client, "/api/v1/me/preferences",
                   world.auth("t1") | {"Accept-Encoding": "gzip"})  # fmt: skip
    assert r.status_code == 200 and "content-encoding" not in r.headers
