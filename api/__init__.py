"""HTTP API of gridmap (FastAPI). Only routes, dependencies and the app factory live here."""
