"""``study export``: stimuli -> a self-contained HTML survey (paper 7; docs/study.md).

The survey is one file (``survey.html``): inline CSS and JavaScript, the stimuli and the
instrument embedded as JSON, no network request except the POST of the answers to the page's
own server (``study serve``). Opened from disk (``file://``) or when the server cannot be
reached, the page offers the answers as a downloaded ``.jsonl`` file instead.

Folder written by :func:`export_survey`::

    out/survey.html      the survey
    out/stimuli.json     the stimuli and the instrument (read by serve and analyze)
    out/responses/       one JSON line per participant (written by serve)
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from .. import runio

TEMPLATE = "study_survey.html"
PLACEHOLDER = "__PAYLOAD__"


def render_survey(stimuli: dict[str, Any]) -> str:
    """The survey page for a ``stimuli.json`` payload (a pure function of it).

    Examples
    --------
    >>> html = render_survey({"survey_id": "x", "stimuli": [], "text": "</script>"})
    >>> "<\\\\/script>" in html and html.count("</script>") == 2
    True
    """
    template = resources.files("tracekd_core.resources").joinpath(TEMPLATE).read_text("utf-8")
    # inside <script> a literal "</" would end the element: escape it (still valid JSON)
    blob = json.dumps(stimuli, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return template.replace(PLACEHOLDER, blob, 1)


def export_survey(stimuli: dict[str, Any], out: str | Path) -> Path:
    """Write ``survey.html``, ``stimuli.json`` and an empty ``responses/`` into ``out``.

    Returns
    -------
    Path
        The path of ``survey.html``.
    """
    out = Path(out)
    (out / "responses").mkdir(parents=True, exist_ok=True)
    runio.atomic_write_json(out / "stimuli.json", stimuli)
    return runio.atomic_write_text(out / "survey.html", render_survey(stimuli))
