"""Saved filters and the language preference (issue 26, item 1 and 5)."""

from tests.helpers import assert_problem

URL = "/api/v1/me/filters"


def save(client, world, who, **body):
    body = {"name": "待派单", "query": "status=reported&queue=mine"} | body
    return client.post(URL, json=body, headers=world.auth(who))


def names(client, world, who):
    r = client.get(URL, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return [(f["name"], f["owner"], f["default"]) for f in r.json()]


def test_mine_and_those_shared_with_my_centre(client, world):
    mine = save(client, world, "t1", name="我的", shared=False)
    assert mine.status_code == 201, mine.text
    assert mine.json() == {"id": mine.json()["id"], "name": "我的", "owner": "t1", "shared": False,
                           "default": False, "query": "status=reported&queue=mine"}  # fmt: skip
    assert save(client, world, "t1", name="共享", shared=True).status_code == 201
    # the county is another centre; a bureau's handlers share within their bureau
    assert save(client, world, "labour", name="劳动", shared=True).status_code == 201
    assert names(client, world, "t1") == [("共享", "t1", False), ("我的", "t1", False)]
    assert names(client, world, "t2") == []
    assert names(client, world, "county") == []
    assert names(client, world, "housing") == []  # another unit
    assert names(client, world, "labour") == [("劳动", "labour", False)]


def test_one_default_and_only_the_owner_changes_it(client, world):
    a = save(client, world, "t1", name="A", default=True).json()
    b = save(client, world, "t1", name="B", default=True, shared=True).json()
    assert names(client, world, "t1") == [("A", "t1", False), ("B", "t1", True)]
    r = client.put(f"{URL}/{a['id']}", json={"name": "A2", "query": "overdue=true",
                   "default": True}, headers=world.auth("t1"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert names(client, world, "t1") == [("A2", "t1", True), ("B", "t1", False)]
    # township 1's mediator works in the same centre: sees the shared one, may not change it
    assert names(client, world, "mediator") == [("B", "t1", False)]
    for method in ("put", "delete"):
        kwargs = {"json": {"name": "x", "query": ""}} if method == "put" else {}
        r = client.request(method.upper(), f"{URL}/{b['id']}", headers=world.auth("mediator"),
                           **kwargs)  # fmt: skip
        assert_problem(r, 403, "forbidden")
        # another centre does not know it exists
        r = client.request(method.upper(), f"{URL}/{b['id']}", headers=world.auth("t2"),
                           **kwargs)  # fmt: skip
        assert_problem(r, 404, "not_found")
    assert client.delete(f"{URL}/{b['id']}", headers=world.auth("t1")).status_code == 204
    assert names(client, world, "t1") == [("A2", "t1", True)]


def test_the_query_is_checked_by_the_lists_rules(client, world):
    for query in ("colour=red", "phone_suffix=12", "status=flying", "sort=title",
                  "page_size=9999", "since=yesterday"):  # fmt: skip
        assert_problem(save(client, world, "t1", query=query), 422, "validation_error")
    ok = save(client, world, "t1", query="?status=reported&status=dispatched&sort=-deadline")
    assert ok.status_code == 201, ok.text
    assert ok.json()["query"] == "status=reported&status=dispatched&sort=-deadline"
    assert_problem(save(client, world, "t1", name=" "), 422, "validation_error")
    assert_problem(save(client, world, "t1"), 409, "conflict")  # the same name twice


def test_language_is_kept_per_user(client, world):
    auth = world.auth("t1")
    assert client.get("/api/v1/me/preferences", headers=auth).json() == {"lang": "zh"}
    assert client.put("/api/v1/me/preferences", json={"lang": "en"}, headers=auth).json() == {
        "lang": "en"
    }
    assert client.get("/api/v1/me/preferences", headers=auth).json() == {"lang": "en"}
    assert client.get("/api/v1/me/preferences", headers=world.auth("t2")).json() == {"lang": "zh"}
    r = client.put("/api/v1/me/preferences", json={"lang": "fr"}, headers=auth)
    assert_problem(r, 422, "validation_error")
    assert client.get("/api/v1/me/preferences").status_code == 401
