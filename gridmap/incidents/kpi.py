"""KPI definitions (docs/decisions.md), over a frame of incidents.

- accepted (受理): citizen appeals (channels other than the grid-worker app) not rejected;
- closed (办结): accepted and in state ``closed``; completion_rate = closed / accepted;
- disputes_screened (排查): dispute-category incidents from any channel, not rejected;
- disputes_resolved (化解): of those, outcome ``mediated``;
- people_served: people involved in accepted incidents.
"""

from __future__ import annotations

import pandas as pd

APPEAL_CHANNELS = frozenset({"citizen_app", "window", "hotline", "online"})


def totals(incidents: pd.DataFrame) -> dict[str, float]:
    """The headline KPIs.

    ``incidents`` has channel, status, is_dispute, outcome and people_involved columns.
    """
    live = incidents["status"] != "rejected"
    accepted = live & incidents["channel"].isin(APPEAL_CHANNELS)
    closed = accepted & (incidents["status"] == "closed")
    disputes = live & incidents["is_dispute"].astype(bool)
    mediated = disputes & (incidents["outcome"] == "mediated")
    n_accepted, n_disputes = int(accepted.sum()), int(disputes.sum())
    return {
        "accepted": n_accepted,
        "closed": int(closed.sum()),
        "completion_rate": closed.sum() / n_accepted if n_accepted else 0.0,
        "disputes_screened": n_disputes,
        "disputes_resolved": int(mediated.sum()),
        "dispute_resolution_rate": mediated.sum() / n_disputes if n_disputes else 0.0,
        "people_served": int(incidents.loc[accepted, "people_involved"].sum()),
    }
