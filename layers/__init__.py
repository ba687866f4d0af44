"""Map layer declarations: each layer declared once, reused by maps, OGC API and tiles."""
