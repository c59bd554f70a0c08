"""Prometheus Alertmanager's webhook payload (version 4), as Alertmanager posts it.

Alertmanager groups alerts: one POST carries a group's alerts, each with its own ``status``
(``firing`` or ``resolved``) and ``fingerprint``. It has no message id; repeated notifications
of the same group are told apart by fingerprint (:mod:`broadcast.inbound.service`). Fields the
service does not use are accepted and ignored, so a newer Alertmanager keeps working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from broadcast.core.validation import Text
from broadcast.inbound.events import AlertEvent

Labels = dict[Text, Text]
"""Label and annotation values may become a notice's title and message: no NUL."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Alert(_Lenient):
    """One alert of the group; field names are Alertmanager's own."""

    status: Literal["firing", "resolved"]
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: Text = Field(min_length=1, max_length=128)


class AlertmanagerPayload(_Lenient):
    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(max_length=1000)


def alert_events(payload: AlertmanagerPayload) -> list[AlertEvent]:
    """Each alert of the group: title from ``summary`` or ``alertname``, message from
    ``description`` (an alert's own annotations win over the group's common ones)."""
    return [_event(alert, payload) for alert in payload.alerts]


def _event(alert: Alert, payload: AlertmanagerPayload) -> AlertEvent:
    annotations = {**payload.commonAnnotations, **alert.annotations}
    labels = {**payload.commonLabels, **alert.labels}
    title = annotations.get("summary") or labels.get("alertname") or "Alerte de supervision"
    message = annotations.get("description") or annotations.get("summary") or title
    return AlertEvent.of(alert.fingerprint, alert.status == "firing", title, message)
