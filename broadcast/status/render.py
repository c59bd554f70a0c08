"""Status pages, banners, feeds and manifests as bytes, rendered from a :class:`StatusPage`.

HTML comes from Jinja2 templates in ``templates/status/`` with autoescape on: notice text is
written by operators and read by everyone, so it is always escaped. Times are Europe/Paris and
worded by Babel; the relative ones ("il y a 3 min") are true when rendered and kept true in the
browser by our script, which rewrites them from each ``<time datetime>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from broadcast.notices.catalogue import ServiceCatalogue
from broadcast.status import urls
from broadcast.status.pages import AcademieEntry, Incident, OrgRef, Relation, StatusPage
from broadcast.status.texts import FOLLOW_PAGES, KIND, LIFECYCLE, WORDS
from broadcast.status.timefmt import ago, clock, date_and_clock

TEMPLATES_DIR = Path(__file__).parent.parent.parent / "templates" / "status"
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_SCHEMA_ID = "https://broadcast.invalid/schemas/status-page-v1.json"


@dataclass(frozen=True, slots=True)
class SiteContext:
    """What every rendering needs beside the page: the public address, the service labels."""

    base_url: str
    catalogue: ServiceCatalogue

    def absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


class StatusRenderer:
    def __init__(self, site: SiteContext, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.site = site
        self.templates_dir = templates_dir
        self._env = Environment(
            loader=FileSystemLoader(templates_dir),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def page(self, page: StatusPage, locale: str, now: datetime) -> bytes:
        return self._html("page.html", page, locale, now)

    def banner(self, page: StatusPage, locale: str, now: datetime) -> bytes:
        return self._html("banner.html", page, locale, now)

    def index(self, academies: list[AcademieEntry], locale: str, now: datetime) -> bytes:
        words = WORDS[locale]
        entries = [
            {
                "name": a.organisation.name,
                "url": urls.page_path(a.organisation.code, locale),
                "summary": _summary(a.open_incidents, words),
                "open": a.open_incidents,
            }
            for a in academies
        ]
        return self._render(
            "index.html",
            locale=locale,
            t=words,
            academies=entries,
            other_language_url=urls.index_path("en" if locale == "fr" else "fr"),
        )

    def follow_page(
        self,
        locale: str,
        *,
        title: str,
        text: str,
        back_url: str,
        other_language_url: str,
        form_action: str | None = None,
        button: str | None = None,
    ) -> bytes:
        """A page of the email follow (sent, confirm, confirmed, refused): not cached."""
        return self._render(
            "follow.html",
            locale=locale,
            t=WORDS[locale],
            title=title,
            text=text,
            back_url=back_url,
            back=FOLLOW_PAGES[locale]["back"],
            form_action=form_action,
            button=button,
            other_language_url=other_language_url,
        )

    def asset(self, name: str) -> bytes:
        return (self.templates_dir / name).read_bytes()

    def _html(self, template: str, page: StatusPage, locale: str, now: datetime) -> bytes:
        words = WORDS[locale]
        org = page.organisation
        other = "en" if locale == "fr" else "fr"
        return self._render(
            template,
            locale=locale,
            t=words,
            org=org,
            summary=_summary(len(page.open), words),
            ancestors=[
                {"name": a.name, "url": urls.page_path(a.code, locale)} for a in page.ancestors
            ],
            children=[
                {"name": c.name, "url": urls.page_path(c.code, locale)} for c in page.children
            ],
            open=[self._incident(i, page, locale, now) for i in page.open],
            recent=[self._incident(i, page, locale, now) for i in page.recent],
            page_url=urls.page_path(org.code, locale),
            other_language_url=(
                urls.banner_path(org.code, other)
                if template == "banner.html"
                else urls.page_path(org.code, other)
            ),
            json_url=urls.json_path(org.code),
            atom_url=urls.atom_path(org.code),
            manifest_url=urls.manifest_path(org.code),
            embed_script=self.site.absolute("/status/static/banner.js"),
            embed_iframe=self.site.absolute(urls.banner_path(org.code)),
            follow_id=org.id,
        )

    def _incident(
        self, incident: Incident, page: StatusPage, locale: str, now: datetime
    ) -> dict[str, Any]:
        words = WORDS[locale]
        return {
            "id": incident.id,
            "title": incident.title,
            "status": incident.status,
            "status_label": LIFECYCLE[locale][incident.status],
            "services": [self.site.catalogue.label(s, locale) for s in incident.services],
            "scope": _scope(incident, words, locale),
            "relation": incident.relation.value,
            "updated_iso": incident.updated_at.isoformat(),
            "when": date_and_clock(incident.updated_at, locale),
            "updated": words["updated"].format(
                ago=ago(incident.updated_at, now, locale),
                when=date_and_clock(incident.updated_at, locale),
            ),
            "next_update": (
                words["next_update"].format(clock=clock(incident.next_update_at, locale))
                if incident.next_update_at is not None and incident.is_open
                else None
            ),
            "updates": [
                {
                    "status_label": LIFECYCLE[locale][u.status],
                    "message": u.message,
                    "iso": u.created_at.isoformat(),
                    "when": date_and_clock(u.created_at, locale),
                }
                for u in incident.updates
            ],
        }

    def _render(self, template: str, **context: Any) -> bytes:
        return self._env.get_template(template).render(**context).encode()

    def manifest(self, org: OrgRef) -> bytes:
        """A web app manifest per page: added to an iPhone's home screen (iOS 16.4 and later),
        the page opens standalone and may receive web push."""
        document = {
            "name": f"{WORDS['fr']['site']} - {org.name}",
            "short_name": org.name[:30],
            "lang": "fr",
            "start_url": urls.page_path(org.code),
            "scope": "/status/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#000091",
            "icons": [{"src": "/status/static/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
        }
        return _json_bytes(document)

    def atom(self, page: StatusPage, now: datetime) -> bytes:
        """RFC 4287: one entry per incident, its latest update as the summary, the whole
        timeline as the content (text, never markup)."""
        ET.register_namespace("", ATOM_NS)
        org = page.organisation
        feed = ET.Element(f"{{{ATOM_NS}}}feed", {XML_LANG: "fr"})
        _sub(feed, "id", self.site.absolute(urls.atom_path(org.code)))
        _sub(feed, "title", f"{WORDS['fr']['site']} - {org.name}")
        _sub(feed, "updated", (page.updated_at or now).isoformat())
        author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
        _sub(author, "name", org.name)
        _link(feed, self.site.absolute(urls.atom_path(org.code)), "self")
        _link(feed, self.site.absolute(urls.page_path(org.code)), "alternate")
        for incident in (*page.open, *page.recent):
            self._entry(feed, incident)
        body: bytes = ET.tostring(feed, encoding="utf-8")
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + body

    def _entry(self, feed: ET.Element, incident: Incident) -> None:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _sub(entry, "id", self.site.absolute(f"/status/incidents/{incident.id}"))
        label = LIFECYCLE["fr"][incident.status]
        _sub(entry, "title", f"{incident.title} ({label})")
        _sub(entry, "updated", incident.updated_at.isoformat())
        _sub(entry, "published", incident.created_at.isoformat())
        _link(entry, self.site.absolute(urls.page_path(incident.organisation.code)), "alternate")
        latest = incident.updates[0].message if incident.updates else incident.title
        _sub(entry, "summary", latest)
        timeline = "\n\n".join(
            f"{date_and_clock(u.created_at, 'fr')} - {LIFECYCLE['fr'][u.status]} : {u.message}"
            for u in incident.updates
        )
        _sub(entry, "content", timeline)
        for service in incident.services:
            ET.SubElement(
                entry,
                f"{{{ATOM_NS}}}category",
                {"term": service, "label": self.site.catalogue.label(service, "fr")},
            )

    def json_document(self, page: StatusPage, now: datetime) -> bytes:
        """The page as data (docs/status.md, docs/status.schema.json)."""
        org = page.organisation
        document = {
            "$schema": JSON_SCHEMA_ID,
            "version": 1,
            "organisation": _org_json(org),
            "page_url": self.site.absolute(urls.page_path(org.code)),
            "updated_at": page.updated_at.isoformat() if page.updated_at else None,
            "open_incidents": [self._incident_json(i) for i in page.open],
            "recent_incidents": [self._incident_json(i) for i in page.recent],
        }
        return _json_bytes(document)

    def _incident_json(self, incident: Incident) -> dict[str, Any]:
        return {
            "id": incident.id,
            "title": incident.title,
            "status": incident.status,
            "status_label": {loc: LIFECYCLE[loc][incident.status] for loc in ("fr", "en")},
            "services": [
                {
                    "code": s,
                    "label": {loc: self.site.catalogue.label(s, loc) for loc in ("fr", "en")},
                }
                for s in incident.services
            ],
            "organisation": _org_json(incident.organisation),
            "relation": incident.relation.value,
            "created_at": incident.created_at.isoformat(),
            "updated_at": incident.updated_at.isoformat(),
            "next_update_at": (
                incident.next_update_at.isoformat()
                if incident.next_update_at and incident.is_open
                else None
            ),
            "url": self.site.absolute(urls.page_path(incident.organisation.code)),
            "updates": [
                {"status": u.status, "message": u.message, "created_at": u.created_at.isoformat()}
                for u in incident.updates
            ],
        }


def _summary(open_count: int, words: dict[str, str]) -> str:
    if open_count == 0:
        return words["all_good"]
    if open_count == 1:
        return words["open_one"]
    return words["open_many"].format(n=open_count)


def _scope(incident: Incident, words: dict[str, str], locale: str) -> str | None:
    org = incident.organisation
    if incident.relation == Relation.inherited:
        return words["inherited"].format(kind=KIND[locale].get(org.kind, ""), name=org.name)
    if incident.relation == Relation.beneath:
        return words["beneath"].format(name=org.name)
    return None


def _org_json(org: OrgRef) -> dict[str, Any]:
    return {"id": org.id, "code": org.code, "name": org.name, "kind": org.kind}


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _sub(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}")
    element.text = text
    return element


def _link(parent: ET.Element, href: str, rel: str) -> None:
    ET.SubElement(parent, f"{{{ATOM_NS}}}link", {"href": href, "rel": rel})
