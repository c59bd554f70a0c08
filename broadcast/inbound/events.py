"""One alert as the service understands it, whatever format the monitoring system used."""

from __future__ import annotations

from dataclasses import dataclass

TITLE_CHARS = 200
MESSAGE_CHARS = 5000


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A firing or resolved alert, keyed by the monitoring system's fingerprint."""

    fingerprint: str
    firing: bool
    title: str
    message: str

    @classmethod
    def of(cls, fingerprint: str, firing: bool, title: str, message: str) -> AlertEvent:
        """Texts trimmed to what a notice holds; an empty message repeats the title."""
        title = " ".join(title.split())[:TITLE_CHARS] or "Alerte de supervision"
        return cls(fingerprint, firing, title, message.strip()[:MESSAGE_CHARS] or title)
