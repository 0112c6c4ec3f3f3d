"""Parse a model's raw reply into the fields of one kind of text.

Accepted, in order: a JSON object (also inside a Markdown code fence or surrounded by chatter);
``Field: value`` lines; for intents, the final sentence itself ("The user likes … and dislikes …",
"It attracts users who … and repels users who …"); for profiles, plain prose as the summary.
Anything else raises :class:`ParseError` with the reason, so the caller can retry and then record
the failure.
"""

from __future__ import annotations

import json
import re

from fuserec.text.prompts import FIELDS

MAX_SUMMARY_WORDS = 100
_MIN_PLAIN_WORDS = 8

#: fields that must be present and non-empty, per (kind, side); the others may be empty
REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("profile", "user"): ("summary",),
    ("profile", "item"): ("summary",),
    ("intent", "user"): ("likes", "dislikes"),
    ("intent", "item"): ("attracts", "repels"),
}

_SENTENCE = {
    ("intent", "user"): re.compile(r"likes\s+(?P<likes>.+?)\s*,?\s+and\s+dislikes\s+(?P<dislikes>.+?)(?:\.\s|\.$|\n|$)",
                                   re.IGNORECASE | re.DOTALL),
    ("intent", "item"): re.compile(r"attracts\s+(?:users\s+who\s+)?(?P<attracts>.+?)\s*,?\s+and\s+repels\s+"
                                   r"(?:users\s+who\s+)?(?P<repels>.+?)(?:\.\s|\.$|\n|$)",
                                   re.IGNORECASE | re.DOTALL),
}


class ParseError(ValueError):
    """The reply could not be read as the expected fields; ``str(err)`` is the reason."""


def parse_output(kind: str, side: str, raw: str) -> tuple[dict[str, str], str]:
    """Fields of ``raw`` for ``(kind, side)`` and how they were found (``json``, ``labels``,
    ``sentence`` or ``plain``). Raises :class:`ParseError`."""
    names = FIELDS[(kind, side)]
    required = REQUIRED[(kind, side)]
    text = (raw or "").strip()
    if not text:
        raise ParseError("empty reply")
    attempts: list[str] = []
    for mode, finder in (("json", _from_json), ("labels", _from_labels), ("sentence", _from_sentence)):
        try:
            found = finder(kind, side, text, names)
        except ParseError as exc:
            attempts.append(f"{mode}: {exc}")
            continue
        missing = [n for n in required if not found.get(n, "").strip()]
        if missing:
            attempts.append(f"{mode}: missing {', '.join(missing)}")
            continue
        return _clean(kind, side, found, names), mode
    if kind == "profile":
        words = text.split()
        if len(words) >= _MIN_PLAIN_WORDS and "{" not in text:
            return _clean(kind, side, {"summary": text, "reasoning": ""}, names), "plain"
        attempts.append(f"plain: only {len(words)} words" if "{" not in text else "plain: broken JSON")
    raise ParseError("; ".join(attempts) or "no fields found")


def _from_json(kind: str, side: str, text: str, names: tuple[str, ...]) -> dict[str, str]:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0:
        raise ParseError("no JSON object")
    if end <= start:
        raise ParseError("invalid JSON (object never closed)")
    try:
        obj = json.loads(body[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(obj, dict):
        raise ParseError(f"JSON is a {type(obj).__name__}, not an object")
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    out = {}
    for name in names:
        value = lowered.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out[name] = "" if value is None else str(value)
    return out


def _from_labels(kind: str, side: str, text: str, names: tuple[str, ...]) -> dict[str, str]:
    label = re.compile(r"^[\s*#>\-]*(%s)[\s*]*[:：]\s*" % "|".join(names), re.IGNORECASE | re.MULTILINE)
    matches = list(label.finditer(text))
    if not matches:
        raise ParseError("no 'Field:' lines")
    out: dict[str, str] = {}
    for i, m in enumerate(matches):
        stop = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out.setdefault(m.group(1).lower(), text[m.end():stop].strip().strip('"*'))
    return out


def _from_sentence(kind: str, side: str, text: str, names: tuple[str, ...]) -> dict[str, str]:
    pattern = _SENTENCE.get((kind, side))
    if pattern is None:
        raise ParseError("not an intent")
    m = pattern.search(text)
    if not m:
        raise ParseError("no intent sentence")
    return {name: m.group(name) for name in names}


_LEADS = {
    "likes": re.compile(r"^(the user )?likes\s+", re.I),
    "dislikes": re.compile(r"^(the user )?dislikes\s+", re.I),
    "attracts": re.compile(r"^(it )?attracts\s+(users who\s+)?", re.I),
    "repels": re.compile(r"^(it )?repels\s+(users who\s+)?", re.I),
}


def _clean(kind: str, side: str, found: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        value = " ".join(str(found.get(name, "")).split())
        if name in _LEADS:
            value = _LEADS[name].sub("", value).rstrip(".")
        out[name] = value
    if "summary" in out:
        words = out["summary"].split()
        if len(words) > MAX_SUMMARY_WORDS:
            out["summary"] = " ".join(words[:MAX_SUMMARY_WORDS]).rstrip(",;") + " …"
    return out
