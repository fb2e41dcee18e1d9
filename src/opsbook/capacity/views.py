"""The capacity table as plain data, for the API and the web UI (no database, no clock)."""

from __future__ import annotations

from typing import Any

from opsbook.capacity.forecast import NoTrend
from opsbook.capacity.service import ResourceHistory, ResourceView


def trend_dict(view: ResourceView) -> dict[str, Any]:
    trend = view.trend
    if isinstance(trend, NoTrend):
        return {"available": False, "reason": trend.reason}
    return {
        "available": True, "slope_per_day": round(trend.slope_per_day, 4), "level_now": round(trend.level, 3),
        "r2": round(trend.r2, 4), "spread": round(trend.spread, 4), "points": trend.points,
        "days": round(trend.span.total_seconds() / 86400, 2), "rising": trend.rising,
    }


def view_dict(view: ResourceView) -> dict[str, Any]:
    r = view.resource
    return {
        "name": r.name, "title": r.label(), "check": r.check, "value": r.value, "unit": r.unit,
        "capacity": r.capacity, "current": view.current,
        "current_at": view.current_at.isoformat() if view.current_at else None,
        "utilisation_pct": None if view.utilisation is None else round(view.utilisation, 2),
        "trend": trend_dict(view),
        "crossings": [
            {"level": c.level, "action": c.action, "at": c.when.isoformat() if c.when else None}
            for c in view.crossings
        ],
        "action": view.action,
    }


def history_dict(found: ResourceHistory) -> dict[str, Any]:
    return {**view_dict(found.view),
            "history": [{"at": t.isoformat(), "mean": round(v, 4)} for t, v in found.points]}
