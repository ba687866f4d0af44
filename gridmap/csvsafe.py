"""CSV cells a spreadsheet will not run (CSV or formula injection).

Excel, WPS and LibreOffice read a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula, so a name typed as ``=HYPERLINK("http://…")`` into the
registry would run on the desk of whoever opens an export. Every CSV gridmap writes for
people goes through :func:`cell` (one value) or :func:`frame` (a table): such a cell gets a
leading single quote, which the spreadsheet shows as text (OWASP's advice). Numbers stay
numbers; only text cells change. The database loader's COPY streams are data for
PostgreSQL, not for people, and are left as they are.
"""

from __future__ import annotations

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """``value``, with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def frame(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with :func:`cell` applied to every text column (a copy; vectorised)."""
    out = pd.DataFrame(data)  # a shallow copy: changed columns are replaced, never written to
    for name in out.columns:
        column = out[name]
        if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
            continue
        try:
            risky = column.str.startswith(TRIGGERS, na=False).to_numpy(dtype=bool)
        except AttributeError:  # not text: dates, bytes
            continue
        if risky.any():
            values = column.to_numpy(dtype=object, copy=True)
            values[risky] = ["'" + str(v) for v in values[risky]]
            out[name] = values
    return out
