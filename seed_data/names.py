"""Plausible Chinese names for synthetic places and people (Minnan flavour), vectorised."""

from __future__ import annotations

import numpy as np
from numpy.random import Generator

# Characters common in Quanzhou place names.
PLACE_CHARS = list(
    "东西南北湖海江山溪坑厝埔美安福祥清源丰泽城桥塘洋霞岭头林石后前新金玉龙凤华仁德和兴隆永春光明阳云峰"
    "浦洲田坂内上下中古乐宝盛庄园亭港湾沙铺洪梅竹桂兰荣顺康宁平泰吉瑞昌茂盛"
)

# Surnames by frequency in southern Fujian (approximate shares), and given-name characters.
SURNAMES = list("陈林黄张吴王李郑蔡许洪苏庄刘杨曾施傅谢郭柯何周高叶卢肖潘颜邱")
SURNAME_P = np.array(
    [
        12,
        9,
        7,
        5,
        5,
        5,
        4,
        4,
        4,
        3,
        3,
        3,
        3,
        2.5,
        2.5,
        2,
        2,
        2,
        2,
        2,
        2,
        1.5,
        1.5,
        1.5,
        1.5,
        1.5,
        1,
        1,
        1,
        1,
    ]
)
SURNAME_P = SURNAME_P / SURNAME_P.sum()
GIVEN_CHARS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华建国志文玉兰红梅海燕晓婷雪琳鑫宇浩然子轩梓涵"
    "一诺欣怡俊杰嘉怡思远雅婷宏伟振华淑珍丽娟家豪晨阳佳琪"
)


def place_names(rng: Generator, n: int, suffix: str, taken: set[str] | None = None) -> list[str]:
    """``n`` distinct two-character names with ``suffix`` (e.g. 街道, 村), avoiding ``taken``."""
    taken = set(taken or ())
    names: list[str] = []
    while len(names) < n:
        a, b = rng.choice(len(PLACE_CHARS), 2, replace=False)
        name = PLACE_CHARS[a] + PLACE_CHARS[b] + suffix
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def person_names(rng: Generator, n: int) -> np.ndarray:
    """``n`` full names: a surname and one or two given characters (vectorised)."""
    surnames = np.array(SURNAMES)[rng.choice(len(SURNAMES), n, p=SURNAME_P)]
    given = np.array(GIVEN_CHARS)
    first = given[rng.integers(0, len(given), n)]
    second = given[rng.integers(0, len(given), n)]
    two = rng.random(n) < 0.7
    return np.char.add(np.char.add(surnames, first), np.where(two, second, ""))
