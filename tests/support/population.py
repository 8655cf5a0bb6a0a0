"""A township's elder records, made up reproducibly."""

from __future__ import annotations

import random

from console.casework.elder import Contact, ElderRecord
from console.station.config import Category

SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡"
            "贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
            "雷钱汤尹黎易常武乔贺赖龚文单")


GIVEN = "秀英桂兰玉珍德福永年建国淑珍凤英金凤明华志强春梅海燕国庆丽娟文华宝山淑芬素珍玉兰凤兰秀兰翠兰玉梅"


VILLAGES = ["桃源村", "柳湾村", "东山村", "河西街", "新街", "石桥村", "青石社区", "南岗村"]


def elder(name: str, address: str = "青石镇桃源村三组12号", phones: tuple[str, ...] = (),
          file_no: str | None = None, phone: str | None = None) -> ElderRecord:
    return ElderRecord(name=name, category=Category.GENERAL, address=address, file_no=file_no, phone=phone,
                       contacts=[Contact(name="家属", phone=p) for p in phones])


def population(n: int, seed: int = 6) -> list[tuple[str, ElderRecord]]:
    """n elders with names, addresses and phones like a county's."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
        address = f"青石镇{rnd.choice(VILLAGES)}{rnd.randint(1, 9)}组{rnd.randint(1, 99)}号"
        phones = tuple(f"1{rnd.randint(30, 99)}-{rnd.randint(0, 9999):04d}-{rnd.randint(0, 9999):04d}"
                       for _ in range(rnd.randint(1, 3)))
        out.append((f"h{i + 1:05d}", elder(name, address, phones, file_no=f"QS-{i + 1:05d}")))
    return out
