"""End to end in a real browser: export -> ``study serve`` -> headless Chromium answers -> analyze.

Chromium (Debian's) is driven over the DevTools protocol (``--remote-debugging-port``, the
``websocket-client`` package): the test clicks the survey's radio buttons and buttons page by
page as a participant would, submits to the ``tracekd study serve`` subprocess on loopback, and
checks that ``tracekd study analyze`` reads the saved response. A second run opens the page from
disk (no server) and checks that the answers are downloaded as a file instead. Skips without
chromium unless ``CI=true`` (then it fails; see ``tests/test_book.py``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from test_book import require_chromium

from tracekd_core.cli import main
from tracekd_core.study.design import ATTENTION_CHECKS, stimulus_order
from tracekd_core.study.responses import read_responses
from tracekd_core.study.survey import export_survey

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
EXPECTED = {a.id: a.expected for a in ATTENTION_CHECKS}


class Browser:
    """A headless Chromium and one page, driven through the DevTools protocol."""

    def __init__(self, profile_dir: Path):
        import websocket

        self.proc = subprocess.Popen(
            [
                require_chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile_dir}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        browser_ws = None
        while browser_ws is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            browser_ws = m.group(1) if m else None
            if not line and self.proc.poll() is not None:
                break
        assert browser_ws, "chromium did not open its DevTools port"
        port = int(re.search(r":(\d+)/", browser_ws).group(1))
        self._ids = itertools.count(1)
        self.browser = websocket.create_connection(browser_ws, timeout=30, suppress_origin=True)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self.page = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )

    def send(self, method: str, ws=None, **params):
        ws = ws or self.page
        msg_id = next(self._ids)
        ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == msg_id:
                assert "error" not in msg, msg
                return msg["result"]

    def js(self, expr: str):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def wait(self, expr: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(expr):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expr}")

    def open(self, url: str):
        self.send("Page.navigate", url=url)
        time.sleep(0.2)
        self.wait("document.readyState === 'complete' && !!document.getElementById('start')")

    def close(self):
        for ws in (self.page, self.browser):
            ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _answer_survey(b: Browser, participant: str) -> list[dict]:
    """Answer every page like a participant; returns what was clicked, page by page."""
    b.js(f"document.getElementById('pid').value = {participant!r}")
    b.js("document.getElementById('start').click()")
    assert b.js("!document.getElementById('page').classList.contains('hidden')")
    # submitting an empty page is refused with a visible message
    b.js("document.getElementById('next').click()")
    assert b.js("!document.getElementById('error').classList.contains('hidden')")
    n_pages = b.js("S.stimuli.length")
    clicked = []
    for page in range(n_pages):
        text = b.js("document.getElementById('reasoning').textContent")
        names = b.js("[...document.querySelectorAll('#items fieldset')].map(f => f.dataset.name)")
        choice = {}
        for k, name in enumerate(names):
            v = EXPECTED.get(name, 1 + (page + k + len(text)) % 5)
            b.js(f'document.querySelector(\'input[name="{name}"][value="{v}"]\').click()')
            choice[name] = v
        clicked.append({"text": text, "choice": choice})
        b.js("document.getElementById('next').click()")
    return clicked


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def browser(tmp_path):
    b = Browser(tmp_path / "chromium-profile")
    yield b
    b.close()


def test_survey_answered_in_chromium_is_saved_and_analyzed(browser, study_stimuli, tmp_path):
    study = tmp_path / "study"
    export_survey(study_stimuli, study)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracekd_core.cli",
            "study",
            "serve",
            "--dir",
            str(study),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
            time.sleep(0.2)
        browser.open(url + "?pid=ignored")
        # the id from the URL is prefilled (Prolific passes ?PROLIFIC_PID= or ?pid=)
        assert browser.js("document.getElementById('pid').value") == "ignored"
        clicked = _answer_survey(browser, "E2E-1")
        browser.wait("document.body.dataset.submitted === 'ok'")
    finally:
        server.terminate()
        server.wait(timeout=20)

    # the page showed the stimuli in the order the Python design recomputes
    by_sid = {s["sid"]: s for s in study_stimuli["stimuli"]}
    order = stimulus_order(list(by_sid), seed=study_stimuli["seed"], participant="E2E-1")
    assert [c["text"] for c in clicked] == [by_sid[sid]["text"] for sid in order]
    [resp] = read_responses(study / "responses", study_stimuli)  # validated against the survey
    assert resp["participant"] == "E2E-1" and resp["order"] == order
    assert len(resp["ratings"]) == len(order) * 6
    first = {r["item"]: r["value"] for r in resp["ratings"] if r["position"] == 0}
    assert first == {k: v for k, v in clicked[0]["choice"].items() if k in first}
    assert sorted(a["check"] for a in resp["attention"]) == ["A1", "A2"]

    out = tmp_path / "analysis"
    assert main(["study", "analyze", str(study / "responses"), "--out", str(out)]) == 0
    ex = pd.read_csv(out / "exclusions.csv").iloc[0]
    assert (ex["responses"], ex["kept"]) == (1, 1)  # attention checks answered as instructed
    means = pd.read_csv(out / "means.csv")
    assert len(means) == 8 and (means["n_participants"] == 1).all()


def test_survey_opened_from_disk_downloads_the_answers(browser, study_stimuli, tmp_path):
    study = tmp_path / "study"
    page = export_survey(study_stimuli, study)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.send(
        "Browser.setDownloadBehavior",
        ws=browser.browser,
        behavior="allow",
        downloadPath=str(downloads),
    )
    browser.open(page.as_uri())
    _answer_survey(browser, "DISK-1")
    browser.wait("!document.getElementById('download').classList.contains('hidden')")
    target = downloads / "tracekd-response-DISK-1.jsonl"
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert target.exists(), sorted(p.name for p in downloads.iterdir())
    [resp] = read_responses(target, study_stimuli)
    assert resp["participant"] == "DISK-1"
