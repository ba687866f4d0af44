"""Operations: metrics, logs, readiness, backups and scheduled jobs (issue 30).

The engine side of running gridmap in production; ``api/`` and ``gridmap/cli/`` call it.
"""
