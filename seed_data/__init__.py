"""Demo and city-scale seed data for Quanzhou (real county outlines, synthetic contents)."""
