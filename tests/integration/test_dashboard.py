"""The web dashboard (/ui/ on the gateway) driven in headless Chromium.

What a user of the page checks: the overview lists the live chunkservers; a
file uploaded through the page shows up in the file browser and reads back
byte-identical through the REST API; the file view shows its chunks and their
replicas; "New folder" creates a directory; an API error appears in the error
banner instead of failing silently; the page fits a 390 px wide window.

Screenshots (overview and file browser at 1280x800, the file browser at
390 px wide) are saved as artifacts in $CAIRN_ARTIFACTS_DIR (default
<repo>/build/test-artifacts/).

Needs Debian's chromium, chromium-driver and python3-selenium (installed by
scripts/install-deps.sh; $CAIRN_CHROMIUM and $CAIRN_CHROMEDRIVER override the
binaries found on PATH). Without them the tests fail, unless
CAIRN_ALLOW_NO_BROWSER=1, which turns that failure into a skip. Chromium is
kept off the network: every host name but 127.0.0.1 fails to resolve and its
background services are off; the tests also check that the page loads nothing
from another origin.
"""

import json
import os
import shutil
import struct
import urllib.parse
from pathlib import Path

import pytest

from cluster import CHUNK, REPO_ROOT, payload, sha256

try:
    from selenium import webdriver
    from selenium.common.exceptions import (StaleElementReferenceException,
                                            TimeoutException, WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    _SELENIUM_ERROR = None
except ImportError as e:  # reported by the `browser` fixture
    _SELENIUM_ERROR = e

WAIT = 30.0  # seconds for any page condition; the machine may be busy
POLL = 0.1  # seconds between checks of a condition

DESKTOP = (1280, 800)
NARROW = (390, 844)

ARTIFACTS_DIR = Path(os.environ.get("CAIRN_ARTIFACTS_DIR",
                                    REPO_ROOT / "build" / "test-artifacts"))


def _find_browser():
    """(chromium, chromedriver) paths, or a message naming what is missing."""
    chromium = (os.environ.get("CAIRN_CHROMIUM") or shutil.which("chromium")
                or shutil.which("chromium-browser"))
    driver = os.environ.get("CAIRN_CHROMEDRIVER") or shutil.which("chromedriver")
    missing = []
    if _SELENIUM_ERROR is not None:
        missing.append(f"python3-selenium (import selenium: {_SELENIUM_ERROR})")
    if not chromium or not Path(chromium).is_file():
        missing.append(f"chromium ({chromium} is not a file)" if chromium else
                       "chromium (not on PATH; CAIRN_CHROMIUM unset)")
    if not driver or not Path(driver).is_file():
        missing.append(f"chromium-driver ({driver} is not a file)" if driver else
                       "chromium-driver (no chromedriver on PATH; "
                       "CAIRN_CHROMEDRIVER unset)")
    if missing:
        return None, None, (
            "the dashboard browser test needs " + "; ".join(missing) +
            ". Install them with scripts/install-deps.sh (Debian packages "
            "chromium chromium-driver python3-selenium fonts-dejavu-core), or "
            "set CAIRN_ALLOW_NO_BROWSER=1 to skip these tests.")
    return chromium, driver, None


class Browser:
    """Headless Chromium for this module, started on first use.

    It starts inside the first test that needs it (not in a fixture), so
    that a missing browser makes the tests FAIL rather than ERROR.
    """

    def __init__(self, work_dir):
        self.work_dir = Path(work_dir)
        self._driver = None
        self._problem = None

    @property
    def driver(self):
        if self._driver is None:
            if self._problem is None:
                self._problem = self._start()
            if self._problem:
                if os.environ.get("CAIRN_ALLOW_NO_BROWSER") == "1":
                    pytest.skip(self._problem)
                pytest.fail(self._problem, pytrace=False)
        return self._driver

    def _start(self):
        """Starts Chromium; returns '' or why it could not."""
        chromium, driver_path, problem = _find_browser()
        if problem:
            return problem
        profile = self.work_dir / "chromium-profile"
        log = self.work_dir / "chromedriver.log"
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for arg in (
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
                # No network but the cluster on 127.0.0.1.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--no-proxy-server", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-extensions",
                "--no-first-run", "--no-default-browser-check",
                "--metrics-recording-only", "--disable-breakpad",
                "--disable-features=Translate,OptimizationHints,MediaRouter",
                "--force-device-scale-factor=1", "--lang=en-US"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self._driver = webdriver.Chrome(
                service=Service(driver_path, log_path=str(log)), options=opts)
        except WebDriverException as e:
            return (f"could not start headless Chromium ({chromium}) with "
                    f"{driver_path}: {e.msg or e} (chromedriver log: {log})")
        return ""

    def quit(self):
        if self._driver is not None:
            self._driver.quit()
            self._driver = None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("browser"))
    try:
        yield b
    finally:
        b.quit()


@pytest.fixture
def page(browser, cluster, request):
    """The dashboard of the shared cluster, in `browser`, at desktop size.

    On failure saves a screenshot `<test>-failure.png` with the artifacts.
    """
    failed_before = request.session.testsfailed
    p = Page(browser, cluster.gateway.http)
    yield p
    if p.started and request.session.testsfailed > failed_before:
        try:
            save_screenshot(p.d, f"{request.node.name}-failure.png")
        except WebDriverException:
            pass


# --------------------------------------------------------------------------
# Helpers


def set_viewport(driver, width, height):
    """Makes the page's viewport exactly width x height CSS pixels."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1,
        "mobile": width < 600})


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def save_screenshot(driver, name):
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / name
    assert driver.save_screenshot(str(path)), f"screenshot {path} failed"
    return path


def css_string(value):
    """A CSS attribute-selector string literal for `value`."""
    return json.dumps(value)


def hash_path(path):
    """The dashboard's encoding of a Cairn path in location.hash."""
    return "/".join(urllib.parse.quote(p, safe="") for p in path.split("/"))


class Page:
    """The dashboard in `driver`, served by the gateway at `addr`."""

    def __init__(self, browser, addr):
        self._browser = browser
        self._driver = None
        self.origin = f"http://{addr}"

    @property
    def started(self):
        return self._driver is not None

    @property
    def d(self):
        """The WebDriver; on first use, reset to a blank desktop-size page."""
        if self._driver is None:
            driver = self._browser.driver  # fails or skips without a browser
            set_viewport(driver, *DESKTOP)
            driver.get("about:blank")
            driver.get_log("browser")  # drop earlier tests' console messages
            self._driver = driver
        return self._driver

    def css(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, condition, what, timeout=WAIT):
        """Polls `condition(driver)` until truthy; fails naming `what`.

        The page re-renders its view as it refreshes itself, so an element
        going stale in between counts as "not yet".
        """
        try:
            return WebDriverWait(
                self.d, timeout, poll_frequency=POLL,
                ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            banner = self.banner_text()
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}"
                f" (view {self.view()!r}, error banner: {banner!r})") from None

    def view(self):
        return self.d.find_element(By.TAG_NAME, "body").get_attribute("data-view")

    def banner_text(self):
        banner = self.css("#error-banner")
        return banner[0].text if banner and banner[0].is_displayed() else ""

    def open(self, view_hash, view):
        """Loads /ui/#<view_hash> and waits for the view's fresh data."""
        self.d.get(f"{self.origin}/ui/#{view_hash}")
        self.wait_loaded(view)

    def wait_loaded(self, view):
        self.wait(lambda d: self.view() == view and d.find_element(
            By.ID, "main").get_attribute("data-loaded") == "true",
            f"view {view!r} with main[data-loaded=true]")

    def click(self, selector):
        def clicked(d):
            found = self.css(selector)
            if not found or not found[0].is_displayed() or not found[0].is_enabled():
                return False
            found[0].click()
            return True

        self.wait(clicked, f"{selector} to be clickable")

    def table(self, selector):
        """A consistent snapshot of the rows matching `selector`: each row's
        data-* attributes, its cells' text, and the text of its replica chips
        (the node ids)."""
        return self.d.execute_script("""
            return [...document.querySelectorAll(arguments[0])].map((tr) => ({
              data: Object.assign({}, tr.dataset),
              cells: [...tr.querySelectorAll('td')].map((td) => td.innerText.trim()),
              chips: [...tr.querySelectorAll('.chip')].map(
                  (c) => (c.firstChild ? c.firstChild.textContent : '').trim()),
            }));""", selector)

    def text(self, selector):
        return self.d.execute_script(
            "const e = document.querySelector(arguments[0]);"
            "return e ? e.innerText.trim() : null;", selector)

    def dialog_input(self, text):
        """Types `text` into the open dialog's field and presses OK."""
        def visible_field(d):
            field = d.find_element(By.ID, "dialog-input")
            return field if field.is_displayed() else None

        field = self.wait(visible_field, "the dialog's input field")
        field.clear()
        field.send_keys(text)
        self.click("#dialog-ok")

    def row(self, path, kind):
        return self.css(f"#file-list tr[data-path={css_string(path)}]"
                        f"[data-type={css_string(kind)}]")

    def resource_urls(self):
        return self.d.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat([location.href]);")

    def console_errors(self, allow=()):
        """SEVERE console messages not containing any of `allow`."""
        return [e["message"] for e in self.d.get_log("browser")
                if e.get("level") == "SEVERE"
                and not any(a in e["message"] for a in allow)]

    def assert_same_origin_only(self):
        foreign = [u for u in self.resource_urls()
                   if not u.startswith(self.origin + "/")]
        assert not foreign, f"the page loaded resources from elsewhere: {foreign}"


def alive_node_ids(cluster):
    return sorted(str(n["id"]) for n in cluster.nodes()
                  if str(n.get("state", "")).lower() == "alive")


def upload_through_page(page, local_file, cairn_path):
    """Sends `local_file` to #upload-input; waits for the upload to finish."""
    def sent(d):
        inputs = page.css("#upload-input")
        if not inputs:
            return False
        inputs[0].send_keys(str(local_file))
        return True

    page.wait(sent, "#upload-input to take the file")
    sel = f"#uploads .upload[data-path={css_string(cairn_path)}]"

    def finished(d):
        items = page.css(sel)
        if not items:
            return None
        state = items[0].get_attribute("data-state")
        if state in ("failed", "canceled"):
            raise AssertionError(f"upload of {cairn_path} {state}: {items[0].text!r}")
        return state == "done"

    page.wait(finished, f"upload of {cairn_path} to reach data-state=done")


# --------------------------------------------------------------------------
# Tests


def test_overview_lists_live_chunkservers(page, cluster, gw, ns):
    cluster.wait_nodes_alive(3)
    want = alive_node_ids(cluster)
    assert len(want) == 3, cluster.nodes()
    # Three chunks, so that every node has something to show.
    assert gw.put(f"{ns}/data", payload(2 * CHUNK + 1, seed=ns)).status == 201

    page.open("/overview", "overview")

    # Columns: Node, Address, Zone, State, Usage, Chunks, Heartbeat.
    def nodes_listed(d):
        rows = page.table("#nodes-table tr[data-node-id]")
        ids = sorted(r["data"]["nodeId"] for r in rows)
        if ids != want or {r["data"]["state"] for r in rows} != {"alive"}:
            return None
        # Chunk counts come with heartbeats; the page refreshes itself.
        if not all(r["cells"][5].isdigit() and int(r["cells"][5]) >= 3 for r in rows):
            return None
        return rows

    rows = page.wait(nodes_listed, f"#nodes-table to list nodes {want} as alive, "
                                   f"each holding the 3 new chunks")
    assert sorted(r["cells"][2] for r in rows) == sorted(cluster.zones), rows
    assert all(r["cells"][3] == "alive" for r in rows), rows
    totals = page.text("#cluster-totals")
    assert "3 / 3" in totals, totals
    assert page.banner_text() == ""
    page.assert_same_origin_only()

    shot = save_screenshot(page.d, "dashboard-overview-1280x800.png")
    assert png_size(shot) == DESKTOP, (shot, png_size(shot))
    assert page.console_errors() == []


def test_upload_mkdir_and_file_view(page, gw, ns, tmp_path):
    assert gw.mkdir(ns).status in (200, 201), "setting up the test directory"
    name = "upload me.txt"
    data = payload(2 * CHUNK + 123_457, seed=ns)  # three chunks
    local = tmp_path / name
    local.write_bytes(data)
    cairn_path = f"{ns}/{name}"

    page.open(f"/files{hash_path(ns)}", "files")
    upload_through_page(page, local, cairn_path)
    page.wait(lambda d: page.row(cairn_path, "file"),
              f"#file-list row for {cairn_path}")

    r = gw.get(cairn_path)
    assert r.status == 200, r
    assert sha256(r.body) == sha256(data), (
        f"{cairn_path} read back through the REST API has sha256 "
        f"{sha256(r.body)} ({len(r.body)} bytes); uploaded {sha256(data)} "
        f"({len(data)} bytes)")
    assert r.header("X-Checksum-Sha256") == sha256(data), r

    # "New folder" makes a directory the listing and the API both show.
    page.click("#mkdir-button")
    page.dialog_input("folder A")
    page.wait(lambda d: page.row(f"{ns}/folder A", "dir"),
              f"#file-list row for the new directory {ns}/folder A")
    listing = gw.list(ns)
    assert listing.status == 200, listing
    assert {(e["name"], e["type"]) for e in listing.json()["entries"]} == {
        ("folder A", "dir"), (name, "file")}, listing.json()
    assert page.banner_text() == ""

    shot = save_screenshot(page.d, "dashboard-files-1280x800.png")
    assert png_size(shot) == DESKTOP, (shot, png_size(shot))

    # The file view: every chunk with its replicas, as /api/v1/fileinfo has them.
    info = gw.fileinfo(cairn_path)
    assert info.status == 200, info
    info = info.json()
    assert len(info["chunks"]) == 3, info
    page.open(f"/file{hash_path(cairn_path)}", "file")
    assert page.text("#file-sha256") == sha256(data)
    # Columns: #, Handle, Version, Offset, Size, Replicas.
    rows = page.table("#chunk-table tbody tr")
    assert len(rows) == len(info["chunks"]), (rows, info)
    for row, chunk in zip(rows, info["chunks"]):
        assert row["cells"][1] == str(chunk["handle"]), (row, chunk)
        assert row["cells"][2] == str(chunk["version"]), (row, chunk)
        assert sorted(row["chips"]) == sorted(
            str(r["node_id"]) for r in chunk["replicas"]), (row, chunk)
        assert len(row["chips"]) == 3, (row, chunk)

    page.assert_same_origin_only()
    assert page.console_errors() == []


def test_api_error_is_shown_in_banner(page, gw, ns):
    # A file where the page will try to make a directory: the API says 409.
    assert gw.put(f"{ns}/taken", b"a file in the way").status == 201
    page.open(f"/files{hash_path(ns)}", "files")
    page.wait(lambda d: page.row(f"{ns}/taken", "file"), f"row for {ns}/taken")
    assert page.banner_text() == ""

    page.click("#mkdir-button")
    page.dialog_input("taken")
    text = page.wait(lambda d: page.banner_text(),
                     "#error-banner to show the failed mkdir")
    assert "409" in text, text
    assert "mkdir" in text.lower(), text
    assert page.css("#error-banner li[data-key='mkdir']"), text
    # The file is untouched and no directory appeared.
    assert not page.row(f"{ns}/taken", "dir")
    assert gw.head(f"{ns}/taken").status == 200

    # Dismissing the error hides the banner.
    page.click("#error-banner li[data-key='mkdir'] button")
    page.wait(lambda d: not page.css("#error-banner")[0].is_displayed(),
              "#error-banner to hide after dismissing")
    # Chromium logs the 409 itself as a failed resource load; nothing else.
    assert page.console_errors(allow=("409",)) == []


def test_narrow_window(page, gw, ns):
    assert gw.put(f"{ns}/a file with a rather long name.bin",
                  payload(3000, seed=ns)).status == 201
    assert gw.mkdir(f"{ns}/a directory").status in (200, 201)
    set_viewport(page.d, *NARROW)
    page.open(f"/files{hash_path(ns)}", "files")
    page.wait(lambda d: page.row(f"{ns}/a directory", "dir"),
              "the listing in a narrow window")
    overflow = page.d.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth;")
    assert overflow <= 0, (
        f"the file browser is {overflow}px wider than a {NARROW[0]}px window")
    shot = save_screenshot(page.d, f"dashboard-files-{NARROW[0]}x{NARROW[1]}.png")
    assert png_size(shot)[0] == NARROW[0], (shot, png_size(shot))
    assert page.console_errors() == []
