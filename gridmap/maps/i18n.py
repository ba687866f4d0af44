"""Labels of the map pages, taken from the one catalogue (gridmap/i18n.py).

Chinese by default, English with a setting or ``?lang=en``. The map pages read their
strings at the top level and states, channels and levels under their old names.
"""

from __future__ import annotations

from gridmap.i18n import CATALOGUE, LANGS

LABELS: dict[str, dict[str, object]] = {
    lang: {
        **CATALOGUE[lang]["ui"],
        "statuses": CATALOGUE[lang]["status"],
        # the workbench's (static/workbench): its forms, history and flags in words
        "action_names": CATALOGUE[lang]["action"],
        "event_names": CATALOGUE[lang]["event"],
        "outcome_names": CATALOGUE[lang]["outcome"],
        "flag_names": CATALOGUE[lang]["flag"],
        "channels": CATALOGUE[lang]["channel"],
        # the levels a map draws (a city is never a map level)
        "levels": {k: v for k, v in CATALOGUE[lang]["level"].items() if k != "city"},
    }
    for lang in LANGS
}
