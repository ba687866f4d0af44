"""The one label catalogue (issue 26, item 5): every code in words, in both languages."""

import re
import typing

import pytest

from gridmap.i18n import CATALOGUE, LANGS
from gridmap.incidents.models import Channel, IncidentStatus, NotificationKind
from gridmap.incidents.schemas import Outcome
from gridmap.incidents.workflow import Action
from gridmap.maps.i18n import LABELS

CODES = {
    "status": {s.value for s in IncidentStatus},
    "action": {a.value for a in Action},
    "event": {a.value for a in Action},
    "channel": {c.value for c in Channel},
    "reminder": {k.value for k in NotificationKind},
    "outcome": set(typing.get_args(Outcome)),
}


@pytest.mark.parametrize("lang", LANGS)
def test_every_code_has_words_in_both_languages(lang):
    for section, codes in CODES.items():
        assert set(CATALOGUE[lang][section]) == codes, (lang, section)
    assert set(CATALOGUE["zh"]["ui"]) == set(CATALOGUE["en"]["ui"])
    for section in CATALOGUE[lang].values():
        for code, words in section.items():
            assert words and words != code, (lang, code)
    if lang == "zh":  # Chinese words, not an English code left behind
        for section in ("status", "action", "channel", "flag", "reminder"):
            assert all(re.search(r"[\u4e00-\u9fff]", w) for w in CATALOGUE[lang][section].values())


def test_the_map_pages_read_the_same_catalogue():
    for lang in LANGS:
        assert LABELS[lang]["statuses"] is CATALOGUE[lang]["status"]
        assert LABELS[lang]["channels"] is CATALOGUE[lang]["channel"]
        assert LABELS[lang]["dispatch_title"] == CATALOGUE[lang]["ui"]["dispatch_title"]


def test_labels_endpoint_in_the_users_language(client, world):
    zh = client.get("/api/v1/labels")  # public: the sign-in form needs it too
    assert zh.status_code == 200, zh.text
    body = zh.json()
    assert body["lang"] == "zh" and body["status"]["reported"] == "待派单"
    assert body["category"]["labour"] and body["category"].keys() >= {"labour", "neighbour"}
    assert set(body) >= {"status", "action", "channel", "category", "flag", "event", "ui"}
    en = client.get("/api/v1/labels", params={"lang": "en"}).json()
    assert en["status"]["reported"] == "Reported" and en["ui"] == CATALOGUE["en"]["ui"]
    auth = world.auth("t1")
    assert client.get("/api/v1/labels", headers=auth).json()["lang"] == "zh"
    client.put("/api/v1/me/preferences", json={"lang": "en"}, headers=auth)
    assert client.get("/api/v1/labels", headers=auth).json()["lang"] == "en"
    assert client.get("/api/v1/labels", params={"lang": "fr"}).status_code == 422
