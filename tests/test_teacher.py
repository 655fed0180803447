"""HttpTeacher against a real OpenAI-compatible HTTP server on 127.0.0.1 (no mocked client)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tracekd_core.errors import TeacherError
from tracekd_core.teacher.backends import HttpTeacher, cached_chat


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict] = []
    fail_first = 0  # number of 503 replies before answering
    malformed = False
    reply = None  # optional callable: last user message -> answer content

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"body": body, "auth": self.headers.get("Authorization")})
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        q = body["messages"][-1]["content"]
        content = type(self).reply(q) if type(self).reply else f"answer to {q}"
        msg = {"content": content, "reasoning_content": f"thinking about {q}"}
        out = {"oops": 1} if type(self).malformed else {"choices": [{"message": msg}]}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.calls, _Handler.fail_first, _Handler.malformed, _Handler.reply = [], 0, False, None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


MSG = [{"role": "user", "content": "Q1"}]


def test_reasoning_and_content_and_key_from_env(server, monkeypatch):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sekret")
    t = HttpTeacher(server, "deepseek-reasoner", api_key_env="TEST_TEACHER_KEY", timeout=5)
    r = t.chat(MSG, {"temperature": 0})
    assert (r.reasoning, r.content) == ("thinking about Q1", "answer to Q1")
    assert _Handler.calls[0]["auth"] == "Bearer sekret"
    assert _Handler.calls[0]["body"]["model"] == "deepseek-reasoner"


def test_cache_resumes_and_never_stores_the_key(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sekret")
    t = HttpTeacher(server, "m", api_key_env="TEST_TEACHER_KEY", timeout=5)
    a = cached_chat(t, MSG, {}, tmp_path)
    b = cached_chat(t, MSG, {}, tmp_path)
    assert a == b and len(_Handler.calls) == 1
    stored = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    assert "thinking about Q1" in stored and "sekret" not in stored


def test_retries_transient_errors(server):
    _Handler.fail_first = 2
    t = HttpTeacher(server, "m", api_key_env=None, backoff=0.01, timeout=5)
    assert t.chat(MSG, {}).content == "answer to Q1"
    assert len(_Handler.calls) == 3


def test_clear_errors(server, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(TeacherError, match="NO_SUCH_KEY_VAR"):
        HttpTeacher(server, "m", api_key_env="NO_SUCH_KEY_VAR")
    _Handler.malformed = True
    with pytest.raises(TeacherError, match="malformed"):
        HttpTeacher(server, "m", api_key_env=None, timeout=5).chat(MSG, {})
    dead = HttpTeacher("http://127.0.0.1:9", "m", api_key_env=None, max_retries=1, backoff=0.01)
    with pytest.raises(TeacherError, match="unreachable"):
        dead.chat(MSG, {})


def test_pipeline_keeps_only_solved_problems_and_resumes(server, tmp_path):
    from tests.conftest import FIXTURES
    from tracekd_core.records import read_problems
    from tracekd_core.teacher.pipeline import run_pipeline

    problems = read_problems(FIXTURES / "problems" / "cotemp10.jsonl")[:4]
    gold = {p.question: repr(p.answers) for p in problems[:2]}  # the teacher solves 2 of 4

    def reply(q):
        return next((a for k, a in gold.items() if k in q), "['nobody']")

    _Handler.reply = staticmethod(reply)
    t = HttpTeacher(server, "m", api_key_env=None, timeout=5)
    rows = run_pipeline(t, problems, tmp_path)
    assert [r["correct"] for r in rows] == [True, True, False, False]
    assert all(r["summary"] and r["explanation"] for r in rows[:2])
    assert all(r["summary"] is None and r["explanation"] is None for r in rows[2:])
    n_calls = len(_Handler.calls)
    assert n_calls == 4 + 2 * 2
    assert run_pipeline(t, problems, tmp_path) == rows and len(_Handler.calls) == n_calls


def test_import_traces_csv_and_jsonl(tmp_path):
    from tracekd_core.errors import RecordError
    from tracekd_core.teacher.pipeline import import_traces

    (tmp_path / "t.csv").write_text("id,trace\na,think a\nb,think b\n")
    assert import_traces(tmp_path / "t.csv") == {"a": "think a", "b": "think b"}
    (tmp_path / "t.jsonl").write_text('{"pid": "a", "r1": "x"}\n{"pid": "a", "r1": "y"}\n')
    with pytest.raises(RecordError, match="line 2"):
        import_traces(tmp_path / "t.jsonl", id_col="pid", trace_col="r1")


def test_local_teacher_runs_the_pipeline_offline(tiny_student, tmp_path):
    from tests.conftest import FIXTURES
    from tracekd_core.records import read_problems
    from tracekd_core.teacher.backends import LocalTeacher
    from tracekd_core.teacher.pipeline import run_pipeline

    model, tok = tiny_student
    t = LocalTeacher("tiny-random", model=model, tokenizer=tok)
    problems = read_problems(FIXTURES / "problems" / "cotemp10.jsonl")[:2]
    rows = run_pipeline(t, problems, tmp_path, params={"max_new_tokens": 8})
    assert [r["id"] for r in rows] == [p.id for p in problems]
    assert all(isinstance(r["answer"], str) and isinstance(r["correct"], bool) for r in rows)
    assert len(list(tmp_path.rglob("*.json"))) >= 2  # every call cached


def test_cli_http_backend(server, tmp_path, capsys):
    from tests.conftest import FIXTURES
    from tracekd_core.cli import main

    out = tmp_path / "t.jsonl"
    argv = ["teacher", "--problems", str(FIXTURES / "problems" / "cotemp10.jsonl"), "--limit",
            "2", "--backend", "http", "--model", "m", "--base-url", server, "--api-key-env", "",
            "--cache", str(tmp_path / "c"), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert len(out.read_text().splitlines()) == 2
    assert "teacher solved 0/2" in capsys.readouterr().out


def test_imported_traces_are_scored_then_summarised_and_explained(server, tmp_path):
    """Issue 12: an existing trace file (R1 traces obtained elsewhere) as the teacher source."""
    import csv

    from tests.conftest import FIXTURES
    from tracekd_core.errors import EmptyInputError
    from tracekd_core.records import read_problems
    from tracekd_core.teacher.pipeline import run_pipeline

    problems = read_problems(FIXTURES / "problems" / "cotemp10.jsonl")[:4]
    path = tmp_path / "r1.csv"
    with path.open("w", newline="") as f:  # traces of 3 of the 4 problems, 2 answered right
        w = csv.writer(f)
        w.writerow(["pid", "r1", "r1_answer"])
        w.writerow([problems[0].id, "think 0", repr(problems[0].answers)])
        w.writerow([problems[1].id, "think 1", repr(problems[1].answers)])
        w.writerow([problems[2].id, "think 2", "['nobody']"])
    _Handler.reply = staticmethod(lambda q: "a summary or an explanation")
    _Handler.calls = []
    t = HttpTeacher(server, "m", api_key_env=None, timeout=5)
    spec = {"path": path, "id_col": "pid", "trace_col": "r1", "answer_col": "r1_answer"}
    rows = run_pipeline(t, problems, tmp_path / "c", imported=spec)
    assert [r["id"] for r in rows] == [p.id for p in problems[:3]]
    assert [r["trace"] for r in rows] == ["think 0", "think 1", "think 2"]
    assert [r["correct"] for r in rows] == [True, True, False]  # scored with our scorer
    assert all(r["summary"] and r["explanation"] for r in rows[:2]) and rows[2]["summary"] is None
    assert len(_Handler.calls) == 2 * 2  # no answering call: the file supplied traces + answers
    taken = run_pipeline(t, problems, tmp_path / "c", imported={**spec, "answer_col": None})
    assert [r["correct"] for r in taken] == [True, True, True]  # taken as solved, gold answer
    with pytest.raises(EmptyInputError, match="none of its 3 ids"):
        run_pipeline(t, problems[3:], tmp_path / "c", imported=spec)


def test_cli_import_traces(server, tmp_path, capsys):
    from tests.conftest import FIXTURES
    from tracekd_core.cli import main
    from tracekd_core.records import read_problems

    problems = read_problems(FIXTURES / "problems" / "cotemp10.jsonl")
    src = tmp_path / "r1.jsonl"
    src.write_text(json.dumps({"id": problems[0].id, "trace": "t", "answer": "['x']"}) + "\n")
    out = tmp_path / "rows.jsonl"
    argv = ["teacher", "--problems", str(FIXTURES / "problems" / "cotemp10.jsonl"),
            "--backend", "http", "--model", "m", "--base-url", server, "--api-key-env", "",
            "--split", "all", "--import-traces", str(src), "--cache", str(tmp_path / "c"),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [problems[0].id] and rows[0]["trace"] == "t"
    assert "teacher solved 0/1" in capsys.readouterr().out
