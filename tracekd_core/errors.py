"""Named exceptions of tracekd (STYLE 6: fail early with helpful errors).

Every message names *where* (file, line, field), shows the bad value and says how to fix it.
Unparseable model output is never an exception: it is a parse status (see ``parse.py``).
"""

from __future__ import annotations


class TracekdError(Exception):
    """Base class of every error raised on purpose by tracekd."""


class ConfigError(TracekdError, ValueError):
    """A configuration file or value is invalid (unknown key, wrong type, bad value)."""


class RecordError(TracekdError, ValueError):
    """A problem/SFT/prediction record is invalid.

    Parameters
    ----------
    file : str or None
        File the record came from (``None`` for in-memory records).
    line : int or None
        1-based line number inside ``file``.
    field : str
        Offending field name.
    value : object
        The bad value (shown with ``repr``, truncated).
    fix : str
        What the user should do about it.
    """

    def __init__(self, *, file: str | None, line: int | None, field: str, value: object, fix: str):
        self.file, self.line, self.field, self.value, self.fix = file, line, field, value, fix
        where = f"{file or '<memory>'}" + (f", line {line}" if line is not None else "")
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        super().__init__(f"{where}: field {field!r} has bad value {shown}. {fix}")


class DatasetFormatError(RecordError):
    """A native dataset file (CoTempQA JSON, bAbI text, MARCO parquet/JSON) is malformed."""


class TraceFormatError(TracekdError, ValueError):
    """A trace template produced or received text that breaks the trace format contract."""


class UnknownNameError(TracekdError, KeyError):
    """A registry lookup used a name that is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class EmptyLossMaskError(TracekdError, ValueError):
    """A rendered training example supervises no token (nothing to learn from)."""


class QuantizationUnavailableError(TracekdError, RuntimeError):
    """4-bit quantisation was requested where bitsandbytes cannot run."""


class ModelUnavailableError(TracekdError, RuntimeError):
    """A student model cannot be found locally and cannot be downloaded."""


class TeacherError(TracekdError, RuntimeError):
    """A teacher backend failed: missing API key, unreachable endpoint or malformed response."""


class RunLockedError(TracekdError, RuntimeError):
    """Another tracekd process holds the lock of a run folder or profile grid."""


class InconsistentRunError(TracekdError, RuntimeError):
    """A run folder's files contradict each other (e.g. ``DONE`` but no predictions file)."""


class ResumeMismatchError(TracekdError, RuntimeError):
    """A resume would append to outputs written by another model, adapter or decoding setup."""


class EmptyInputError(TracekdError, ValueError):
    """An input file or split holds no record where at least one is needed."""


class StudyResponseError(RecordError):
    """A study response (``study serve`` body or a ``responses/*.jsonl`` line) is invalid."""
