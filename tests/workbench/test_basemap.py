"""The base map: none by default (intranets), a configured tile URL when set (issue 26)."""

import json

from gridmap.incidents.models import FINAL
from gridmap.maps.pages import PageConfig, render


def test_no_base_map_unless_a_tile_url_is_configured():
    plain = render(PageConfig(mode="dispatch", lang="zh", title="t"))
    assert "tileLayer(" not in plain
    url = "https://tiles.example.cn/{z}/{x}/{y}.png"
    tiled = render(PageConfig(mode="dispatch", lang="zh", title="t", tile_url=url))
    assert "tileLayer(" in tiled and json.dumps(url)[1:-1] in tiled


def test_the_page_knows_the_final_states_from_the_workflow():
    config = json.loads(PageConfig(mode="dispatch", lang="zh", title="t").as_json())
    assert config["final_states"] == sorted(s.value for s in FINAL)
