"""Issue 9, item 8: HTML pages escape what they echo (a hostile /u/ path stays text), and every
HTML answer carries the Content-Security-Policy (no inline script, no framing), nosniff and a
Referrer-Policy; the walk covers every HTML route the app has."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts

from admin.app import create_app
from admin.pages import render
from admin.public import DemoOutbox
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings

HOSTILE = '"><img src=x onerror=alert(1)>'


def _assert_secured(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # neither 'unsafe-inline' nor a CDN
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_unsubscribe_page_escapes_its_token() -> None:
    html = render("unsubscribe.html", token=HOSTILE)
    assert "<img" not in html and 'onerror=alert(1)>"' not in html
    [action] = re.findall(r'action="([^"]*)"', html)
    assert action == "/u/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"


async def test_a_hostile_unsubscribe_path_comes_back_as_text(
    settings: Settings, sink: SmtpSink
) -> None:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/u/" + HOSTILE)
    assert "<img" not in page.text
    assert "onerror=alert(1)>" not in page.text
    _assert_secured(page)


def _html_routes(app: FastAPI) -> list[str]:
    """Every GET route answering HTML, path parameters filled in."""
    return [
        re.sub(r"\{[^}]+\}", "x", context.path or "")
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and "GET" in route.methods
        and route.response_class is HTMLResponse
    ]


async def test_every_html_answer_is_secured(settings: Settings, sink: SmtpSink) -> None:
    app = create_app(settings, outbox=DemoOutbox(sink))
    paths = _html_routes(app)
    assert {"/u/x", "/demo", "/docs", "/redoc"} <= set(paths)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = [await client.get(path) for path in paths]
            answers.append(await client.post("/u/x"))  # the invalid link page, 404
    for answer in answers:
        assert answer.headers["content-type"].startswith("text/html"), answer.request.url
        assert "<script>" not in answer.text  # scripts only from files
        _assert_secured(answer)
    assert answers[-1].status_code == 404 and "Lien invalide" in answers[-1].text
