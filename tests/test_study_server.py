"""``study serve``: the survey's loopback server writes valid lines and rejects junk."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tracekd_core.study.responses import read_responses
from tracekd_core.study.server import make_server
from tracekd_core.study.survey import export_survey


@pytest.fixture()
def server(study_stimuli, tmp_path):
    export_survey(study_stimuli, tmp_path / "study")
    srv = make_server(tmp_path / "study", "127.0.0.1", 0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", tmp_path / "study"
    srv.shutdown()
    srv.server_close()


def test_serves_the_survey_page_only(server):
    url, d = server
    r = httpx.get(url + "/", timeout=10)
    assert r.status_code == 200 and r.content == (d / "survey.html").read_bytes()
    assert httpx.get(url + "/survey.html?pid=P1", timeout=10).status_code == 200
    assert httpx.get(url + "/stimuli.json", timeout=10).status_code == 404
    assert httpx.get(url + "/../responses/", timeout=10).status_code == 404


def test_valid_response_written_as_one_line(server, study_stimuli, make_study_response):
    url, d = server
    resp = make_study_response(study_stimuli, "P01", lambda s, item: 4)
    r = httpx.post(url + "/submit", json=resp, timeout=10)
    assert r.status_code == 200, r.text
    path = d / "responses" / "P01.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == resp
    assert [x["participant"] for x in read_responses(d / "responses", study_stimuli)] == ["P01"]
    assert not list((d / "responses").glob(".*.tmp"))  # atomic write left no temp file
    # the same participant again: 409, the first answer is kept
    again = httpx.post(url + "/submit", json={**resp, "submitted": "later"}, timeout=10)
    assert again.status_code == 409
    assert path.read_text().splitlines() == lines


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: "not json", "<json>"),
        (lambda r: [1, 2], "<root>"),
        (lambda r: {**r, "format": "other"}, "format"),
        (lambda r: {**r, "participant": "../../etc"}, "participant"),
        (lambda r: {**r, "survey_id": "abc"}, "survey_id"),
        (lambda r: {**r, "ratings": r["ratings"][:-1]}, "ratings"),
        (
            lambda r: {**r, "ratings": [{**r["ratings"][0], "value": 6}, *r["ratings"][1:]]},
            "ratings[0].value",
        ),
        (lambda r: {**r, "order": list(reversed(r["order"]))}, "order"),
        (lambda r: {**r, "attention": r["attention"][:1]}, "attention"),
    ],
)
def test_junk_is_rejected_with_a_named_error(
    server, study_stimuli, make_study_response, mutate, field
):
    url, d = server
    body = mutate(make_study_response(study_stimuli, "P02"))
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    r = httpx.post(url + "/submit", content=content, timeout=10)
    assert r.status_code == 400
    err = r.json()["error"]
    assert field == "<json>" and "not JSON" in err or f"field {field!r}" in err, err
    assert not list((d / "responses").iterdir())


def test_oversized_body_and_wrong_path(server):
    url, _ = server
    big = httpx.post(url + "/submit", content=b"x" * 2_000_001, timeout=10)
    assert big.status_code == 413
    assert httpx.post(url + "/other", json={}, timeout=10).status_code == 404
