"""Shared by the inbound tests: monitoring sources created through the API, and payloads as
Alertmanager and a generic monitoring system send them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from tests.support import auth


async def create_source(
    client: httpx.AsyncClient,
    key: str,
    organisation_id: int,
    kind: str = "alertmanager",
    auto_send_channels: list[str] | None = None,
) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/inbound-sources",
        headers=auth(key),
        json={
            "organisation_id": organisation_id,
            "name": "Supervision ENT",
            "kind": kind,
            "auto_send_channels": auto_send_channels or [],
        },
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def alertmanager_payload(
    status: str = "firing", fingerprint: str = "5ef77f1f8a3ecfa4"
) -> dict[str, Any]:
    """What Alertmanager (webhook_config, version 4) posts for a one-alert group."""
    labels = {
        "alertname": "ENTIndisponible",
        "instance": "ent.ac-strasbourg.fr",
        "severity": "critical",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ENTIndisponible"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "broadcast",
        "groupLabels": {"alertname": "ENTIndisponible"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.ac-strasbourg.fr:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {
                    "summary": "L'ENT ne répond plus",
                    "description": "La page d'accueil de l'ENT ne répond plus depuis 5 minutes.",
                },
                "startsAt": "2026-11-28T07:58:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-28T08:30:00Z",
                "generatorURL": "http://prometheus.ac-strasbourg.fr:9090/graph?g0.expr=up",
                "fingerprint": fingerprint,
            }
        ],
    }


async def post_alertmanager(
    client: httpx.AsyncClient, source: dict[str, Any], payload: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/inbound/alertmanager/{source['id']}",
        headers={"Authorization": f"Bearer {source['secret']}"},
        json=payload,
    )


def generic_alert(status: str = "firing", fingerprint: str = "ent-down") -> dict[str, Any]:
    return {
        "fingerprint": fingerprint,
        "status": status,
        "title": "Messagerie de l'ENT indisponible",
        "message": "La messagerie de l'ENT ne distribue plus les messages.",
        "severity": "major",
    }


def signed(
    secret: str, msg_id: str, body: dict[str, Any], at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and its Standard Webhooks headers, signed by the ``standardwebhooks`` package."""
    data = json.dumps(body)
    moment = at or datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, data),
        "content-type": "application/json",
    }
    return data.encode(), headers


async def notices_of(client: httpx.AsyncClient, key: str) -> list[dict[str, Any]]:
    listed = await client.get("/api/v1/notices", headers=auth(key))
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return [
        (await client.get(f"/api/v1/notices/{n['id']}", headers=auth(key))).json() for n in items
    ]
