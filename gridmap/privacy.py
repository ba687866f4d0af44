"""Masking personal information (PIPL): what every response and export shows by default.

Two things are masked, by one rule each:

- structured fields — a resident ID number, a phone number, a person's name — by
  :func:`mask` (``RULES``);
- free text people type — descriptions, notes, visit findings, task titles, instructions
  and results, addresses, work-unit names, media URLs — by :func:`mask_text`, which finds
  resident ID numbers and mainland mobile numbers however they were typed and masks each
  by the same rule as the field.

Reading unmasked data is a separate, audited path (``api.deps.authorise_unmask``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

Kind = Literal["id_number", "phone", "name"]


@dataclass(frozen=True)
class Rule:
    """Keep ``head`` characters and ``tail`` characters, star what lies between.

    ``stars`` fixes how many stars stand in the middle (so the length is hidden too);
    ``None`` writes one per hidden character. A value too short to hide anything with both
    ends kept keeps fewer: the tail goes first, then the head (张三 → 张*, 张 → *).
    """

    head: int
    tail: int
    stars: int | None = None


RULES: dict[Kind, Rule] = {
    "id_number": Rule(6, 4, 8),  # region code … last four: 350503********123X
    "phone": Rule(3, 4, 4),  # carrier prefix … last four: 138****5678
    "name": Rule(1, 1),  # 姓名脱敏: first and last character: 张*三, 欧阳娜娜 → 欧**娜, 张三 → 张*
}


def mask(value: str | None, kind: Kind) -> str | None:
    """One value, masked by its kind's rule (``None`` and ``""`` stay as they are)."""
    if not value:
        return value
    head, stars, tail = _parts(RULES[kind], len(value))
    return value[:head] + stars + value[len(value) - tail :]


def _parts(rule: Rule, length: int) -> tuple[int, str, int]:
    """(characters kept at the start, the stars, kept at the end) for a value this long."""
    head = min(rule.head, max(length - 1, 0))  # something is always hidden: 张 → *
    tail = min(rule.tail, max(length - 1 - head, 0))  # the tail goes first: 张三 → 张*
    return head, "*" * (rule.stars if rule.stars is not None else length - head - tail), tail


def mask_array(values: ArrayLike, kind: Kind | Literal["text"]) -> NDArray[np.object_]:
    """Many values (a column of an export), masked: ``kind`` is a field's, or ``"text"``.

    None and NaN become None. The rules of one value (:func:`mask`, :func:`mask_text`),
    vectorised per length of value for the fields, so an export cannot disagree with an
    answer.
    """
    s = pd.Series(np.asarray(values, dtype=object))
    present = s[s.notna()].astype(str)
    out = np.full(len(s), None, dtype=object)
    if kind == "text":
        out[present.index] = [mask_text(v) for v in present]
        return out
    rule = RULES[kind]
    for length, group in present.groupby(present.str.len()):
        if not length:
            out[group.index] = ""  # as mask(""): a blank hides nothing
            continue
        head, stars, tail = _parts(rule, int(length))
        out[group.index] = (group.str[:head] + stars + group.str[int(length) - tail :]).to_numpy()
    return out


# -- free text ---------------------------------------------------------------------------------

# Full-width forms (ＡＢＣ０１２，＋，－，（）), the ideographic space and the other dashes
# and spaces people type, each to one ASCII character: the text keeps its length, so a
# position in the normalised text is the same position in the original.
_NORMAL = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {
    c: ord(" ") for c in (0x3000, 0x00A0, 0x2007, 0x2009, 0x200A, 0x202F, 0x205F)
} | {c: ord("-") for c in (*range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63, 0x30FC)}  # fmt: skip
_DIGIT = re.compile("[0-9\uff10-\uff19]")
_SEP = r"[ \t.\-]"
# digits with separators between them (at most three in a row: "138 - 0013"), and an ID
# number's check character X, glued or after a separator (not a word: "… Xiaoming")
_GROUP = re.compile(rf"[0-9]+(?:{_SEP}{{1,3}}[0-9]+)*(?:[Xx]|{_SEP}{{1,3}}[Xx](?![A-Za-z]))?")
_CHUNK = re.compile(r"([0-9]+)")
# labels that may be glued to a number ("tel13800138000", "ID350503…"); Chinese ones
# (电话, 手机, 身份证) are no letters, so nothing needs saying about them
_LABELS = ("tel", "phone", "mobile", "mob", "cell", "id", "idno", "sfz", "sfzh")
_COUNTRY = ("0086", "86")
_MIN_CHUNK = 3  # "138 0013 8000" is a phone; "1 2 3 4 5 6 7 8 9 10" is not
_LONGEST = 22  # 0086 + a mobile, an ID number: longer spans cannot be one


def mask_text(value: str | None) -> str | None:
    r"""Free text with every resident ID number and mobile number in it masked.

    What is found, after normalising full-width characters (０-９, Ｘ, －, the ideographic
    space):

    - an 18-character resident ID number (17 digits, then a digit or X/x) and a 15-digit
      old one (first digit 1-9, a birth month 01-12 and day 01-31 where the date stands);
    - a mainland mobile number: 11 digits starting with 1 (every ``1\d{10}``, wider than
      a phone field accepts, gridmap/phones.py), also behind a country prefix glued to
      it or before it: ``+86``, ``86``, ``0086``, ``(+86)``;
    - typed with spaces, dashes or dots between groups of at least three digits
      (``138-0013-8000``, ``350503 19900101 123X``), and glued to a label: ``tel``,
      ``TEL:``, ``ID``, ``电话``, ``手机``, ``身份证``.

    Each is masked like the field (``350503********123X``, ``138****8000``; a prefix
    stays, the separators go) in place: the surrounding text is untouched.

    What is left alone, on purpose:

    - a number that is part of a longer run of digits (a bank card, an order number: no
      phone or ID fits in it), or glued after letters that are not a label (incident
      codes ``QZ202500000123``, express waybills, hashes in a URL);
    - dates (2025-03-01), times, decimals, house numbers, amounts, counts — none has the
      length of a phone or an ID, and separated digits join only in groups of three or
      more, so a list of small numbers never becomes one;
    - landline numbers (0595-22345678) and numbers spelled out in words.

    Known over-masking: a 15-digit grid code typed into text whose township and village
    digits read as a date (350503 001001 001) is masked as an old ID number. Structured
    codes (``grid_code``, a map feature's ``code``) are never passed through here.
    """
    if not value or len(_DIGIT.findall(value)) < 11:  # the common case: nothing to find
        return value
    text = value.translate(_NORMAL)
    spans: list[tuple[int, int, Kind]] = []
    for group in _GROUP.finditer(text):
        if group.end() - group.start() >= 11:  # shorter groups hold no number (2025-03-01)
            spans.extend(_found(text, group))
    if not spans:
        return value
    out, last = [], 0
    for start, end, kind in _merged(spans):
        digits = "".join(c for c in text[start:end] if c.isdigit() or c in "Xx")
        out += [value[last:start], mask(digits, kind) or ""]
        last = end
    return "".join(out) + value[last:]


def _found(text: str, group: re.Match[str]) -> list[tuple[int, int, Kind]]:
    """(start, end, kind) of every ID or mobile number in one group of digits."""
    # (start, end of the digits, end with a check character X, the digits)
    chunks = [(m.start(), m.start() + len(m.group(1)), m.end(), m.group(1))
              for m in _CHUNK.finditer(text, group.start(), group.end())]  # fmt: skip
    if text[group.end() - 1] in "Xx":  # the check character belongs to the last chunk
        start, digits_end, _, digits = chunks[-1]
        chunks[-1] = (start, digits_end, group.end(), digits)
    before = text[group.start() - 1] if group.start() else ""
    labelled = not (before.isascii() and before.isalpha()) or _labelled(text, group.start())
    found: list[tuple[int, int, Kind]] = []
    for i in range(0 if labelled else 1, len(chunks)):  # not a code such as QZ2025…
        digits = ""
        for _, digits_end, x_end, chunk in chunks[i:]:
            if len(chunk) + (x_end > digits_end) < _MIN_CHUNK or len(digits) > _LONGEST:
                break
            digits += chunk
            kind, skip = _kind(digits)
            if kind is not None:
                found.append((_position(chunks[i:], skip), digits_end, kind))
            if x_end > digits_end and len(digits) == 17:
                found.append((chunks[i][0], x_end, "id_number"))
    return found


def _kind(digits: str) -> tuple[Kind | None, int]:
    """What ``digits`` is (an ID number, a mobile, nothing), and how many prefix digits."""
    if len(digits) == 18:
        return "id_number", 0
    if len(digits) == 15 and digits[0] != "0" and _birth_date(digits[8:12]):
        return "id_number", 0
    for prefix in ("", *_COUNTRY):
        number = digits[len(prefix) :] if digits.startswith(prefix) else ""
        if len(number) == 11 and number[0] == "1":
            return "phone", len(prefix)
    return None, 0


def _birth_date(mmdd: str) -> bool:
    return 1 <= int(mmdd[:2]) <= 12 and 1 <= int(mmdd[2:]) <= 31


def _position(chunks: list[tuple[int, int, int, str]], skip: int) -> int:
    """Where the number starts in the text: after ``skip`` prefix digits."""
    for start, _, _, chunk in chunks:
        if skip < len(chunk):
            return start + skip
        skip -= len(chunk)
    raise AssertionError("the prefix is shorter than the number")


def _labelled(text: str, at: int) -> bool:
    """True if the letters right before ``at`` end with a label such as tel or ID."""
    begin = at
    while begin > 0 and text[begin - 1].isascii() and text[begin - 1].isalpha():
        begin -= 1
    word = text[begin:at].lower()
    return word.endswith(_LABELS)


def _merged(spans: list[tuple[int, int, Kind]]) -> list[tuple[int, int, Kind]]:
    """Overlapping finds as one span (an ID number if any of them is one)."""
    out: list[tuple[int, int, Kind]] = []
    for start, end, kind in sorted(spans):
        if out and start < out[-1][1]:
            s, e, k = out[-1]
            out[-1] = (s, max(e, end), "id_number" if "id_number" in (k, kind) else k)
        else:
            out.append((start, end, kind))
    return out
