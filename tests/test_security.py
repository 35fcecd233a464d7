"""Security headers on pages and JSON, redirects and pages that never repeat the Host header, and pages
that run under their own Content-Security-Policy (no inline script or style). In process, like
tests/test_api.py; the real server's HTTP limits are in tests/test_limits_e2e.py."""

from __future__ import annotations

import re

import pytest

from server.security import local_location
from tests.test_api import client  # noqa: F401 - the module's app, over the seed corpus

PATHS = ["/", "/?q=bí+mật+nhà+nước", "/?q=%00", "/references", "/documents/003_2cb5ba63ba071e47",
         "/documents/khong-co", "/docs", "/openapi.json", "/healthz", "/static/style.css",
         "/api/search?q=thu", "/api/search?q=", "/api/documents/khong-co", "/api/references", "/khong-co"]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(client, path):  # noqa: F811
    r = client.get(path, follow_redirects=False)
    csp = r.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert not any("unsafe" in value or "http" in value or "*" in value for value in directives.values())
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", PATHS)
def test_nothing_of_the_host_header_comes_back(client, path):  # noqa: F811
    r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert "evil" not in r.text and "evil" not in str(r.headers)


@pytest.mark.parametrize("path", ["/api/search/?q=thu", "/references/", "/static", "/docs/", "//evil.example/",
                                  "/\\evil.example/", "///evil.example//"])
def test_redirects_stay_on_this_server(client, path):  # noqa: F811
    r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    if r.is_redirect:
        location = r.headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")) and "evil.example" not in location
    assert "evil.example" not in str(r.headers).replace("evil.example/", "")


@pytest.mark.parametrize("location, path", [
    ("http://evil.example/api/search?q=x", "/api/search?q=x"), ("http://testserver//evil.example", "/evil.example"),
    ("/\\evil.example", "/evil.example"), ("https://a/b#c", "/b#c"), ("/static/", "/static/"),
])
def test_locations_become_paths(location, path):
    assert local_location(location) == path


def rendered_pages(client):  # noqa: F811
    first = client.get("/api/search", params={"q": "Chỉ thị 39", "k": 1}).json()["results"][0]
    return {
        "home": client.get("/"),
        "search": client.get("/", params={"q": "Quy định 58-QĐ/TW ban hành ngày nào?"}),
        "error": client.get("/", params={"q": "\u200b"}),
        "references": client.get("/references"),
        "document": client.get(f"/documents/{first['citation']['doc_id']}"),
        "missing": client.get("/documents/khong-co"),
        "docs": client.get("/docs"),
    }


def test_pages_load_only_their_own_scripts_and_styles(client):  # noqa: F811
    """What the CSP allows is all the pages need: scripts and styles from files on this server."""
    for name, page in rendered_pages(client).items():
        html = page.text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], name  # no inline script
        assert "<style" not in html and not re.search(r"\sstyle=", html), name
        assert not re.search(r"\son[a-z]+=", html), name  # no inline event handlers
        for url in re.findall(r'(?:src|href)="([^"#?]+)', html):
            assert url.startswith("/") and not url.startswith("//"), (name, url)
            if url.endswith((".js", ".css")):
                assert client.get(url).status_code == 200, url


def test_a_highlighted_document_has_no_inline_script(client):  # noqa: F811
    first = client.get("/api/search", params={"q": "Chỉ thị 39", "k": 1}).json()["results"][0]
    page = client.get(f"/documents/{first['citation']['doc_id']}", params={"passage": first["passage_id"]})
    assert 'class="para highlight"' in page.text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []


def test_the_highlight_is_scrolled_to_by_the_static_script(client):  # noqa: F811
    script = client.get("/static/page.js")
    assert script.status_code == 200 and ".para.highlight" in script.text and "scrollIntoView" in script.text
    assert '<script src="/static/page.js" defer></script>' in client.get("/").text
