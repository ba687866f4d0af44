"""gridmap: geospatial grid management (网格化管理) for social-governance centres."""

__version__ = "0.1.0"
