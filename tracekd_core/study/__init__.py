"""The interpretability study kit (paper section 7): design, stimuli, survey, server, analysis.

``tracekd study export | serve | analyze | proxies`` (``commands/study.py``); chapter 06 of the
book (``book``); ``docs/study.md``.
"""
