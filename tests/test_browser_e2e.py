"""The pages in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium, installed by
scripts/test; Playwright's own browser download does not work offline) against a real `tracuu serve`.

Every page at 1280 and 390 px: no console error, no request to another host, no horizontal scrolling;
then what a reader does: type a question and press Enter, go to the next page, filter, copy a citation.
Screenshots go to out/screenshots/ (two of them are in README.md, from docs/img/).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
SHOTS = REPO / "out" / "screenshots"
WIDTHS = {"wide": (1280, 900), "phone": (390, 844)}
PAGES = {
    "home": "/",
    "results": "/?q=T%E1%BB%89nh+B%C3%ACnh+Thu%E1%BA%ADn+c%C3%B3+bao+nhi%C3%AAu+d%C3%A2n%3F",
    "document": "/documents/003_2cb5ba63ba071e47?passage=003_2cb5ba63ba071e47:14#p-14",
    "registry": "/references",
    "regulation": "/references/quy-dinh-58-qd-tw",
    "docs": "/docs",
    "error": "/khong-co-trang-nay",
}
EXPECTED_STATUS = {"error": 404}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Watched:
    """A page with its console errors and the hosts it asked for recorded."""

    def __init__(self, browser, base: str, width: int, height: int):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _request(self, request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            self.foreign.append(request.url)

    def overflow(self) -> tuple[int, int]:
        return self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def watched(browser, live_server):
    opened: list[Watched] = []

    def open_(width: int = 1280, height: int = 900) -> Watched:
        w = Watched(browser, live_server, width, height)
        opened.append(w)
        return w

    yield open_
    for w in opened:
        w.close()


def ranks(page) -> list[int]:
    return sorted(int(r) for r in page.eval_on_selector_all(".result", "els => els.map(e => e.dataset.rank)"))


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_is_clean_offline_and_fits(watched, live_server, name, width):
    w = watched(*WIDTHS[width])
    response = w.page.goto(live_server + PAGES[name], wait_until="networkidle")
    assert response.status == EXPECTED_STATUS.get(name, 200)
    if name == "docs":
        w.page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)  # rendered, not a blank page
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SHOTS / f"{name}-{WIDTHS[width][0]}.png"), full_page=True)
    # the error page's own 404 is what it is for; anything else in the console is a defect
    errors = [e for e in w.errors if not (name in EXPECTED_STATUS and "status of 404" in e)]
    assert errors == [], errors
    assert w.foreign == [], w.foreign
    scroll, inner = w.overflow()
    assert scroll <= inner, f"{name} at {width}: {scroll} px wide in a {inner} px window"


def test_typing_a_question_shows_marked_results_and_the_next_page(watched, live_server):
    w = watched(390, 844)
    page = w.page
    page.goto(live_server + "/")
    page.fill("input[name=q]", "tinh binh thuan co bao nhieu dan")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    assert ranks(page) == list(range(1, 11))
    marks = page.eval_on_selector_all(".result mark", "els => els.map(e => e.textContent)")
    assert any(m.lower() == "tỉnh bình thuận" for m in marks), marks
    with page.expect_navigation():
        page.click("a[rel=next]")
    assert "page=2" in page.url and ranks(page) == list(range(11, 21))
    page.screenshot(path=str(SHOTS / "results-page2-390.png"), full_page=True)
    assert w.errors == [] and w.foreign == []


def test_a_filter_narrows_the_results(watched, live_server):
    w = watched()
    page = w.page
    page.goto(live_server + "/?q=b%E1%BA%A3o+v%E1%BB%87+ch%C3%ADnh+tr%E1%BB%8B+n%E1%BB%99i+b%E1%BB%99")
    docs = "els => [...new Set(els.map(e => e.getAttribute('href').split('?')[0]))]"
    before = page.eval_on_selector_all(".result .headline a", docs)
    assert len(before) > 1
    page.click("details.filters summary")
    page.select_option("select[name=doc]", before[-1].removeprefix("/documents/"))
    with page.expect_navigation():
        page.click("form.search button[type=submit]")
    after = page.eval_on_selector_all(".result .headline a", docs)
    assert after == [before[-1]] and ranks(page)[0] == 1
    page.screenshot(path=str(SHOTS / "results-filtered-1280.png"), full_page=True)
    assert w.errors == [] and w.foreign == []


def test_the_copy_button_puts_the_citation_on_the_clipboard(watched, live_server):
    w = watched()
    page = w.page
    page.goto(live_server + PAGES["results"])
    button = page.locator(".result button.copy").first
    assert button.inner_text().startswith("Sao chép")
    button.click()
    page.wait_for_function("document.querySelector('.result button.copy').textContent === 'Đã sao chép'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("“") and "đoạn" in copied and "ký tự" in copied
    link = copied.rsplit(" ", 1)[-1]
    assert link.startswith(live_server + "/documents/") and "#p-" in link
    page.goto(link)  # the stable anchor is on the document page, highlighted
    anchor = link.rsplit("#", 1)[1]
    assert page.locator(f"#{anchor}.highlight").count() == 1
    assert w.errors == [] and w.foreign == []
