"""How the CLI writes: one-line errors on stderr (never a traceback, that is `-v`), and text
from documents, users and models made safe to print: no control character or escape sequence
reaches the terminal, or a file the output is piped into."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

__all__ = ["PlainTextStream", "fail", "json_text", "plain_text"]

# ECMA-48 escape sequences, in their 7-bit (ESC ...) and 8-bit (C1) forms.
_STRING_START = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"  # OSC, DCS, SOS, PM, APC
_STRING_END = r"(?:\x07|\x1b\\|\x9c)"  # BEL or ST
_CSI = r"(?:\x1b\[|\x9b)"
_SEQUENCE = re.compile(
    rf"{_STRING_START}.*?{_STRING_END}"  # a window title, an OSC 8 link, a DCS query
    rf"|{_CSI}[0-?]*[ -/]*[@-~]"  # colours, cursor moves, erasing
    r"|\x1b[ -/]*[0-~]",  # any other escape (character sets, keypad modes)
    re.DOTALL,
)
# A sequence the text ends inside of: its next piece may complete it.
_UNFINISHED = re.compile(
    rf"{_STRING_START}(?:(?!{_STRING_END}).)*\Z|{_CSI}[0-?]*[ -/]*\Z|\x1b[ -/]*\Z", re.DOTALL
)
_INTRODUCER = re.compile(r"[\x1b\x90\x98\x9b\x9d\x9e\x9f]")
# C0 controls but tab and newline, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# json.dumps escapes C0 controls but, with ensure_ascii=False, writes DEL and C1 raw.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f]")
# A streamed string sequence never terminated is let through (stripped) after this much.
_MAX_HELD = 4096


def fail(message: str) -> None:
    print(f"helpbot: error: {plain_text(message)}", file=sys.stderr)


def plain_text(text: str) -> str:
    """`text` without escape sequences (whole: `\\x1b[31m`, an OSC 8 link up to its
    terminator) or control characters other than newline and tab.

    Always applied to the text format, to a terminal or not: piped output read later with
    `less -R` or `cat` would replay the sequences. A string sequence without its terminator
    loses only its introducer, so the text after it still shows.
    """
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


class PlainTextStream:
    """`plain_text` for text printed piece by piece (a streamed answer): a sequence split
    between pieces is held back until it is complete, so no part of it shows."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """The printable part of what has arrived so far."""
        text = self._held + piece
        cut = _unfinished_from(text)
        self._held = text[cut:]
        return plain_text(text[:cut])

    def end(self) -> str:
        """Whatever was held back, once no piece can complete it."""
        text, self._held = self._held, ""
        return plain_text(text)


def json_text(value: Any) -> str:
    """`value` as one line of JSON, non-ASCII text kept readable and every control character
    escaped (`\\u009b`), so the line is safe to print and decodes to the same value."""
    text = json.dumps(value, ensure_ascii=False)
    return _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _unfinished_from(text: str) -> int:
    """Where the sequence begins that `text` ends inside of, or `len(text)`."""
    position = 0
    while found := _INTRODUCER.search(text, position):
        start = found.start()
        if len(text) - start <= _MAX_HELD and _UNFINISHED.match(text, start):
            return start
        complete = _SEQUENCE.match(text, start)
        position = complete.end() if complete else start + 1
    return len(text)
