"""Issue 9, item 15: /docs and /redoc work without internet: every script, style and icon they
name is served by the app itself (from the fastapi-offline package), none from a CDN."""

from __future__ import annotations

import re

import httpx
import pytest

from admin.app import create_app
from broadcast.settings import Settings


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_the_documentation_names_only_local_assets_and_they_answer(
    settings: Settings, page: str, expected: set[str]
) -> None:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        html = await client.get(page)
        urls = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', html.text)
        answers = {url: await client.get(url) for url in urls}
    assert html.status_code == 200
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "http://" not in html.text and "https://" not in html.text
    assert {url.rsplit("/", 1)[-1] for url in urls} >= expected
    assert {url: a.status_code for url, a in answers.items()} == dict.fromkeys(urls, 200)
    scripts = [a for url, a in answers.items() if url.endswith(".js")]
    assert scripts and all("javascript" in a.headers["content-type"] for a in scripts)
    assert "openapi" in answers["/openapi.json"].json()
