"""OGC API pages for a browser: the same documents as JSON, drawn as small HTML pages.

A browser asks for ``text/html`` first; GDAL, OWSLib and QGIS ask for JSON (or ``*/*``)
and keep getting JSON, the default. The page is built from the very document the JSON
answer carries, so the two cannot disagree.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

JSON_TYPES = ("application/json", "application/geo+json", "*/*")
MAX_ROWS = 100  # features listed on one page (the JSON page holds them all)


def _quality(accept: str, media: str) -> float:
    """The q a client's Accept header gives ``media`` (0 when it does not name it)."""
    best = 0.0
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        if kind.lower() != media:
            continue
        q = 1.0
        for p in params:
            name, _, value = p.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(request: Request) -> bool:
    """True when the client prefers ``text/html`` to every JSON type it accepts (a browser)."""
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html")
    return html > 0 and html > max(_quality(accept, t) for t in JSON_TYPES)


def _links(links: list[dict[str, Any]]) -> str:
    return (
        "<ul>"
        + "".join(
            f'<li><a href="{escape(link["href"])}">{escape(link.get("title") or link["rel"])}</a>'
            f" <small>{escape(link.get('type', ''))}</small></li>"
            for link in links
        )
        + "</ul>"
    )


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>body{{font:14px sans-serif;margin:1em 2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:left}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def landing(doc: dict[str, Any]) -> HTMLResponse:
    """The landing page."""
    return _page(doc["title"], f"<p>{escape(doc['description'])}</p>{_links(doc['links'])}")


def collections(doc: dict[str, Any]) -> HTMLResponse:
    """The list of collections."""
    rows = "".join(
        f'<tr><td><a href="{escape(_rel(c, "items"))}">{escape(c["id"])}</a></td>'
        f"<td>{escape(c['title'])}</td><td>{escape(c['description'])}</td></tr>"
        for c in doc["collections"]
    )
    return _page("Collections", f"<table><tr><th>id</th><th>标题</th><th>Title</th></tr>"
                 f"{rows}</table>")  # fmt: skip


def collection(doc: dict[str, Any]) -> HTMLResponse:
    """One collection."""
    return _page(f"{doc['title']} ({doc['id']})", f"<p>{escape(doc['description'])}</p>"
                 f"{_links(doc['links'])}")  # fmt: skip


def items(collection_id: str, doc: dict[str, Any]) -> HTMLResponse:
    """A page of features: their properties as a table, the next page's link."""
    features = doc["features"][:MAX_ROWS]
    names = list(dict.fromkeys(k for f in features for k in f.get("properties") or {}))
    head = "".join(f"<th>{escape(n)}</th>" for n in ["id", *names])
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(v) if v is not None else '')}</td>"
            for v in [f.get("id"), *((f.get("properties") or {}).get(n) for n in names)]
        )
        + "</tr>"
        for f in features
    )
    summary = f"<p>{doc['numberReturned']} / {doc['numberMatched']}</p>"
    return _page(collection_id, f"{summary}<table><tr>{head}</tr>{rows}</table>"
                 f"{_links(doc['links'])}")  # fmt: skip


def feature(doc: dict[str, Any]) -> HTMLResponse:
    """One feature's properties."""
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v) if v is not None else '')}</td></tr>"
        for k, v in (doc.get("properties") or {}).items()
    )
    return _page(str(doc.get("id", "")), f"<table>{rows}</table>{_links(doc['links'])}")


def _rel(doc: dict[str, Any], rel: str) -> str:
    return next((link["href"] for link in doc["links"] if link["rel"] == rel), "#")
