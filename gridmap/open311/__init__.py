"""Open311 GeoReport v2: the citizen port spoken as the standard (api/routers/open311.py).

The domain side lives here, without HTTP: registered clients and their keys
(``clients``), the services offered and their attributes (``services``), and requests —
turning a GeoReport form into an ordinary report, and incidents into the spec's public
fields (``requests``).
"""
