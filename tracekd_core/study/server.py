"""``study serve``: a small local server for the survey (stdlib ``http.server``; docs/study.md).

``GET /`` (or ``/survey.html``) serves the exported page; ``POST /submit`` takes one response
(JSON), validates it against the folder's ``stimuli.json`` (``study_responses``) and writes it as
one JSON line to ``responses/<participant>.jsonl`` atomically (temp file + rename, so a reader
never sees half a line). A bad body is answered with HTTP 400 and the validation message, a
participant who already answered with 409, a body over :data:`MAX_BODY` bytes with 413. Nothing
else is served (no directory listing, no other file).
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .. import runio
from ..errors import StudyResponseError
from .responses import validate_response
from .stimuli import read_stimuli

log = logging.getLogger(__name__)

#: Largest accepted body (a full response of a 40-stimulus survey is ~30 kB).
MAX_BODY = 2_000_000


def make_server(
    study_dir: str | Path, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    """A ready (not yet serving) server for the exported survey in ``study_dir``.

    ``port=0`` picks a free port (``server.server_address[1]``). Call ``serve_forever()``.
    """
    study_dir = Path(study_dir)
    stimuli = read_stimuli(study_dir)
    page = (study_dir / "survey.html").read_bytes()
    responses = study_dir / "responses"
    responses.mkdir(exist_ok=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args) -> None:  # route to logging, not stderr
            log.info("%s %s", self.address_string(), fmt % args)

        def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: dict) -> None:
            self._reply(status, json.dumps(obj).encode())

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            if self.path.split("?", 1)[0] in ("/", "/survey.html"):
                self._reply(HTTPStatus.OK, page, "text/html; charset=utf-8")
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page {self.path!r}"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/submit":
                self._json(HTTPStatus.NOT_FOUND, {"error": "POST answers to /submit"})
                return
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                n = -1
            if n < 0 or n > MAX_BODY:
                self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body of {n} bytes"})
                return
            raw = self.rfile.read(n)
            try:
                obj = json.loads(raw.decode("utf-8"))
                validate_response(obj, stimuli, file="POST /submit")
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                self._json(HTTPStatus.BAD_REQUEST, {"error": f"body is not JSON: {e}"})
                return
            except StudyResponseError as e:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
                return
            target = responses / f"{obj['participant']}.jsonl"
            with lock:
                if target.exists():
                    self._json(
                        HTTPStatus.CONFLICT,
                        {"error": f"participant {obj['participant']!r} already answered"},
                    )
                    return
                runio.atomic_write_text(target, json.dumps(obj, ensure_ascii=False) + "\n")
            log.info("saved %s", target)
            self._json(HTTPStatus.OK, {"ok": True, "file": target.name})

    return ThreadingHTTPServer((host, port), Handler)


def serve(study_dir: str | Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the survey until interrupted (Ctrl-C)."""
    server = make_server(study_dir, host, port)
    h, p = server.server_address[:2]
    log.info("survey at http://%s:%d/ ; answers go to %s/responses/", h, p, study_dir)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
