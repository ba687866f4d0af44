"""Masking: the field rules, and the free-text masker against every way a number is typed."""

import unicodedata
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gridmap.privacy import RULES, mask, mask_array, mask_text
from gridmap.registry.ids import id_check_digit


def test_masks_keep_only_what_identifies_nothing():
    assert mask("35050319800101123X", "id_number") == "350503********123X"
    assert mask("13805951234", "phone") == "138****1234"
    assert mask(None, "phone") is None


@pytest.mark.parametrize(("name", "masked"), [
    ("张三丰", "张*丰"), ("陈明华", "陈*华"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"),
    ("阿卜杜·热合曼", "阿*****曼"), ("张", "*"), ("", ""),
])  # fmt: skip
def test_names_keep_their_first_and_last_character(name, masked):
    assert mask(name, "name") == masked


def test_a_value_too_short_for_its_rule_still_hides_something():
    assert mask("12345", "phone") == "123****5"


def test_vectorised_equals_scalar():
    values = np.array(["13805951234", None, "15900001111", float("nan"), "", "123"], dtype=object)
    assert list(mask_array(values, "phone")) == ["138****1234", None, "159****1111", None, "",
                                                 "12****"]  # fmt: skip
    names = np.array(["陈明华", None, "张三", "欧阳娜娜", "张"], dtype=object)
    assert list(mask_array(names, "name")) == ["陈*华", None, "张*", "欧**娜", "*"]
    ids = np.array(["35050319800101123X"], dtype=object)
    assert list(mask_array(ids, "id_number")) == [mask(ids[0], "id_number")]
    texts = np.array(["电话 138-0595-1234", "东湖路1号", None], dtype=object)
    assert list(mask_array(texts, "text")) == [mask_text(t) for t in texts]


# -- free text: examples ---------------------------------------------------------------------

ID18 = "35050319900101123X"
ID15 = "350503900101123"
PHONE = "13805951234"


@pytest.mark.parametrize(("typed", "shown"), [
    (f"电话{PHONE}", "电话138****1234"),
    ("+86 138-0595-1234", "+86 138****1234"),
    ("8613805951234", "86138****1234"),
    ("0086 13805951234", "0086 138****1234"),
    ("(+86)138 0595 1234", "(+86)138****1234"),
    ("（＋８６）１３８０５９５１２３４", "（＋８６）138****1234"),
    ("手机：１３８－０５９５－１２３４，", "手机：138****1234，"),
    ("138　0595　1234", "138****1234"),  # ideographic spaces
    ("138.0595.1234", "138****1234"),
    ("138 - 0595 - 1234", "138****1234"),
    ("tel13805951234", "tel138****1234"),
    ("TEL:13805951234", "TEL:138****1234"),
    ("ｔｅｌ１３８０５９５１２３４", "ｔｅｌ138****1234"),
    ("10013805951234x", "10013805951234x"),  # 14 digits: not a phone
    ("12005951234", "120****1234"),  # every 1\d{10}: wider than the phone field (phones.py)
    (f"ID{ID18}", "ID350503********123X"),
    (f"身份证{ID18[:-1]}x号", "身份证350503********123x号"),
    ("身份证号 350503 19900101 123 X。", "身份证号 350503********123X。"),
    ("３５０５０３１９９００１０１１２３Ｘ", "350503********123X"),
    (f"老身份证{ID15}", "老身份证350503********1123"),
    (f"{PHONE} 2人", "138****1234 2人"),
    (f"{PHONE}、13905951111", "138****1234、139****1111"),
    (f"{PHONE} 13905951111", "138****1234 139****1111"),
    ("1380 138 0595 1234", "138****1234"),  # two readings overlap: both hidden
    ("https://img.example/a.jpg?phone=13805951234&t=1712345678",
     "https://img.example/a.jpg?phone=138****1234&t=1712345678"),
    ("联系王先生13805951234（微信同号）", "联系王先生138****1234（微信同号）"),
])  # fmt: skip
def test_numbers_are_masked_however_they_are_typed(typed, shown):
    assert mask_text(typed) == shown


@pytest.mark.parametrize("text", [
    "QZ202500000123",  # incident codes
    "见QZ202500000123、QZ202500000124",
    "2025-03-01 09:30 到场，2025年3月1日",
    "2025.03.01", "20250301",
    "1 2 3 4 5 6 7 8 9 10",  # a list of small numbers
    "水位 13.5 14.2 15.8 16.1 米",  # decimals
    "东湖路1号3-201室", "共 10 户 31 人，面积 120.5 平方米",
    "350503001001",  # a village code
    "SF1380013800012",  # glued to letters that are no label: a waybill, not a phone
    "6222021234567890123",  # 19 digits: no phone or ID fits a longer run
    "0595-22345678",  # landlines are not masked in text
    "192.168.100.200", "金额 1,380,013,800 元",
    "https://img.example/photo/3f2a9b1c.jpg?t=1712345678",
])  # fmt: skip
def test_text_without_personal_numbers_is_untouched(text):
    assert mask_text(text) == text


def test_nothing_and_blank_stay_as_they_are():
    assert mask_text(None) is None and mask_text("") == ""


# -- free text: properties -------------------------------------------------------------------

FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789Xx+()-."}
SEPARATORS = [" ", "-", ".", "－", "　", " - ", "—", "\u00a0", "．", "\t", "——"]
PHONE_PREFIXES = ["", "+86", "+86 ", "86", "86-", "0086", "0086 ", "(+86)", "（+86）", "＋８６ "]
PHONE_LABELS = ["", "tel", "TEL:", "Tel ", "电话", "手机", "手机号：", "phone:", "mobile"]
ID_LABELS = ["", "ID", "id:", "身份证", "身份证号 ", "公民身份号码："]
# surroundings without digits: every digit in the output then comes from the number
NO_DIGITS = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=12)
# pieces that end a group of digits (not a separator): the number stands on its own
DELIMITERS = ["，", "。", "、", "：", "；", "（", "）", "/", "|", "#", "\n", "的"]


@st.composite
def resident_ids(draw) -> str:
    """An 18-character ID number with a valid GB 11643 check character."""
    region = draw(st.integers(110000, 829999))
    born = draw(st.dates(date(1900, 1, 1), date(2024, 12, 31)))
    first = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    check = str(id_check_digit(np.array([first]))[0])
    return first + (check.lower() if check == "X" and draw(st.booleans()) else check)


@st.composite
def old_ids(draw) -> str:
    """A 15-digit resident ID number (before 1999): region, YYMMDD, sequence."""
    region = draw(st.integers(110000, 829999))
    born = draw(st.dates(date(1900, 1, 1), date(1999, 12, 31)))
    return f"{region}{born:%y%m%d}{draw(st.integers(0, 999)):03d}"


mobiles = st.integers(0, 10**10 - 1).map(lambda n: f"1{n:010d}")


@st.composite
def typed(draw, number: str) -> str:
    """``number`` as a person types it: groups of 3+ with separators, some full-width."""
    cuts, at = [], 0
    while len(number) - at >= 6 and draw(st.booleans()):
        at = draw(st.integers(at + 3, len(number) - 3))
        cuts.append(at)
    pieces = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    text = "".join(p + (draw(st.sampled_from(SEPARATORS)) if i < len(pieces) - 1 else "")
                   for i, p in enumerate(pieces))  # fmt: skip
    return "".join(FULL_WIDTH.get(c, c) if draw(st.booleans()) else c for c in text)


@st.composite
def numbers_in_text(draw):
    """(label + prefix + typed number, the number, its kind)."""
    kind = draw(st.sampled_from(["phone", "id18", "id15"]))
    if kind == "phone":
        number = draw(mobiles)
        label, prefix = draw(st.sampled_from(PHONE_LABELS)), draw(st.sampled_from(PHONE_PREFIXES))
    else:
        number = draw(resident_ids() if kind == "id18" else old_ids())
        label, prefix = draw(st.sampled_from(ID_LABELS)), ""
    return label + prefix + draw(typed(number)), number, "phone" if kind == "phone" else "id_number"


def _plain(text: str) -> str:
    """The text normalised as a reader would: ASCII digits, no separators."""
    text = text.translate({ord(v): k for k, v in FULL_WIDTH.items()})
    return "".join(c for c in text if c not in " -.－　—\u00a0．\t")


def _hidden_windows(number: str, kind: str) -> list[str]:
    """The shortest runs of ``number`` that contain every character the mask hides."""
    rule = RULES[kind]
    return [number[: len(number) - rule.tail], number[rule.head :]]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(before=NO_DIGITS, found=numbers_in_text(), after=NO_DIGITS)
@example(before="abc", found=("tel13805951234", "13805951234", "phone"), after="")
@example(before="", found=("ID35050319900101123X", "35050319900101123X", "id_number"),
         after="Xabc")  # fmt: skip
def test_a_number_in_text_never_survives_and_the_text_around_it_does(before, found, after):
    shown, number, kind = found
    last = unicodedata.normalize("NFKC", before[-1:])[-1:]
    if not (shown[0].isascii() and shown[0].isalpha()) and last.isascii() and last.isalpha():
        before += "，"  # letters glued to a number are a code unless they are a label
    out = mask_text(before + shown + after)
    plain = _plain(out)
    assert number.upper() not in plain.upper()
    for window in _hidden_windows(number.upper(), kind):
        assert window not in plain.upper(), (out, window)
    assert out.startswith(before) and out.endswith(after)
    assert mask(number, kind) in out


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.text(max_size=30), d1=st.sampled_from(DELIMITERS), found=numbers_in_text(),
       d2=st.sampled_from(DELIMITERS), after=st.text(max_size=30))  # fmt: skip
def test_text_around_a_number_is_masked_as_if_alone(before, d1, found, d2, after):
    """Digits, letters and CJK around a number separated by punctuation: no interference."""
    shown, number, kind = found
    out = mask_text(before + d1 + shown + d2 + after)
    head = shown[: len(shown) - len(_typed_tail(shown, number))]
    assert out == mask_text(before) + d1 + head + mask(number, kind) + d2 + mask_text(after)


def _typed_tail(shown: str, number: str) -> str:
    """The part of ``shown`` that is the number (after its label and prefix)."""
    digits = 0
    for i in range(len(shown) - 1, -1, -1):
        if _plain(shown[i]) and _plain(shown[i]) in "0123456789Xx":
            digits += 1
            if digits == len(number):
                return shown[i:]
    raise AssertionError("the number is not in the text")


@given(st.text(max_size=60))
def test_text_with_fewer_than_eleven_digits_is_untouched(text):
    assume(sum(c.isdigit() for c in _plain(text)) < 11)
    assert mask_text(text) == text


def test_a_date_range_is_not_a_phone():
    day = date(2025, 3, 1)
    for n in range(400):
        text = f"{day + timedelta(days=n):%Y-%m-%d} 至 {day + timedelta(days=n + 7):%Y-%m-%d}"
        assert mask_text(text) == text


@settings(max_examples=300)
@given(st.text(alphabet="0123456789０１８６Xx -.－　+()（）tel身份证电话ID", max_size=80))
def test_any_run_of_digits_and_separators_is_answered(text):
    out = mask_text(text)
    assert isinstance(out, str)
    assert sum(c.isdigit() for c in out) <= sum(c.isdigit() for c in text)  # only ever hides
