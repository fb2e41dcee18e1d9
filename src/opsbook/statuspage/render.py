"""Renders a Snapshot once into the three bodies every reader gets: HTML, JSON and Atom.

Times people read (the HTML, the feed entries' text) are in the team's zone, named; the JSON's and the
Atom's machine fields (`<updated>`, `<published>`) are RFC 3339 UTC.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsbook.config.schema import OpsbookConfig
from opsbook.statuspage.snapshot import Snapshot
from opsbook.timefmt import show_time
from opsbook.web.ui.templating import environment


@dataclass(frozen=True)
class Rendered:
    snapshot: Snapshot
    html: bytes
    json: bytes
    atom: bytes
    etag: str


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def feed_entries(snapshot: Snapshot, zone: str) -> list[dict[str, Any]]:
    """One entry per incident (its updates as text) and per scheduled maintenance, newest first; the text
    says its times in the team's `zone`."""
    entries: list[dict[str, Any]] = []
    for incident in [*snapshot.active_incidents, *snapshot.past_incidents]:
        last = max([u.ts for u in incident.updates] + [incident.resolved_at or incident.started_at])
        lines = [f"{show_time(u.ts, zone)} {u.status}: {u.text}" for u in incident.updates]
        state = "Resolved" if incident.resolved_at else "Ongoing"
        entries.append({
            "id": f"incident-{incident.id}",
            "title": f"[{state}] {incident.title}",
            "updated": _iso(last),
            "published": _iso(incident.started_at),
            "text": "\n".join([f"Affects: {', '.join(incident.services)}", *lines]),
            "sort": last,
        })
    for m in snapshot.maintenance:
        # A short stable id for the feed entry, not a security measure.
        title_hash = hashlib.sha1(m.title.encode(), usedforsecurity=False).hexdigest()[:8]
        entries.append({
            "id": f"maintenance-{m.starts_at:%Y%m%d%H%M}-{title_hash}",
            "title": f"[Maintenance] {m.title}",
            "updated": _iso(m.starts_at),
            "published": _iso(m.starts_at),
            "text": f"{show_time(m.starts_at, zone)} – {show_time(m.ends_at, zone)}, "
            f"{', '.join(m.services)}. {m.description}".strip(),
            "sort": m.starts_at,
        })
    entries.sort(key=lambda e: e["sort"], reverse=True)
    return entries


def render(snapshot: Snapshot, config: OpsbookConfig) -> Rendered:
    tz = config.timezone
    html = environment.get_template("status/page.html").render(
        s=snapshot, c=config.status_page.colors, tz=tz,
        subscribe=config.status_page.subscribers.enabled,
    )
    body = json.dumps(snapshot.to_json(), separators=(",", ":")).encode()
    entries = feed_entries(snapshot, tz)
    atom = environment.get_template("status/feed.atom").render(
        s=snapshot,
        base=config.base_url.rstrip("/"),
        updated=entries[0]["updated"] if entries else _iso(snapshot.built_at),
        entries=entries,
    )
    html_bytes = html.encode()
    etag = '"' + hashlib.sha256(html_bytes + body).hexdigest()[:24] + '"'
    return Rendered(snapshot, html_bytes, body, atom.encode(), etag)
