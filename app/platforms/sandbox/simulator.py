"""The audience simulator: synthetic Chinese- and English-speaking viewers who comment on a
creator's works (sometimes answering other comments) and write DMs, at given rates.

Arrivals are a Poisson process per kind (exponential gaps), which looks like real traffic:
bursts and lulls rather than a metronome. Where an arrival goes is up to `inject`: inside the
sandbox site it changes the world directly; `hiscrm sandbox inject` sends it to a running site
through the control API (see control_client.py).
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Literal

log = logging.getLogger(__name__)

NAMES = [
    "小鹿乱撞", "夜猫子阿杰", "奶茶不加糖", "晴天小狗", "吃货小分队", "山河远阔", "云朵棉花糖", "阿明同学",
    "橘子汽水", "不吃香菜", "追风少年", "月亮不睡我不睡", "王小二", "李同学", "程序员老张", "咖啡续命",
    "Emma Zhang", "Lucas", "Mia Chen", "Oliver", "Sophie W.", "Jack Li", "Ava", "Noah Brown",
    "Chloe 🌸", "Leo the traveller", "Grace", "Daniel Wu", "Ella", "Mason K.", "Zoe", "Ethan Lin",
]
COMMENTS = [
    "太好看了吧！😍", "请问这是在哪里拍的？", "已关注，期待下一期 🙌", "哈哈哈笑死我了 🤣", "博主好有耐心 👍",
    "收藏了，周末就去试试", "这个BGM叫什么名字呀 🎵", "第一次刷到你，太喜欢了 ❤️", "求教程！！", "讲得好清楚，学到了 📚",
    "Love this! Where did you get the music? 🎶", "Can you share the recipe please?", "This made my day 😂",
    "Great editing, what app do you use?", "First! 🔥", "Subscribed, keep going 💪", "Is this in Chengdu? 🐼",
    "中英双语太棒了 Love the bilingual captions 🙏", "价格多少？How much is it? 💰",
]
REPLIES = [
    "同问！", "+1 我也想知道", "真的假的 😮", "Same here!", "哈哈哈哈同感", "Agreed 👍", "楼上说得对", "lol true",
]
DMS = [
    "你好，想咨询一下合作 🤝", "请问还有货吗？", "在吗？想问下价格", "你好，视频里的衣服是什么牌子的？",
    "Hi! Is a collab possible?", "Hello, do you ship abroad? 🌍", "Thanks for the tips, it worked! 🙏",
    "能加个微信吗", "老师好，课程什么时候开始？📅", "Hey, loved your last video 😍 quick question…",
    "请问怎么报名？", "你好，我是品牌方，想谈谈推广 📈",
]


@dataclass(frozen=True)
class Arrival:
    kind: Literal["comment", "dm"]
    author: str
    text: str
    as_reply: bool = False


Inject = Callable[[Arrival], Awaitable[None]]


@dataclass
class SimulatorStats:
    comments: int = 0
    dms: int = 0
    errors: int = 0


class Audience:
    """Makes up who says what."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def comment(self) -> Arrival:
        as_reply = self.rng.random() < 0.3
        text = self.rng.choice(REPLIES if as_reply else COMMENTS)
        return Arrival("comment", self.rng.choice(NAMES), text, as_reply=as_reply)

    def dm(self) -> Arrival:
        return Arrival("dm", self.rng.choice(NAMES), self.rng.choice(DMS))


class AudienceSimulator:
    def __init__(self, inject: Inject, *, comments_per_s: float, dms_per_s: float,
                 rng: random.Random | None = None) -> None:
        if comments_per_s < 0 or dms_per_s < 0:
            raise ValueError("rates must not be negative")
        self.inject = inject
        self.rates = {"comment": comments_per_s, "dm": dms_per_s}
        self.audience = Audience(rng)
        self.stats = SimulatorStats()

    def _gap(self, kind: str) -> float:
        rate = self.rates[kind]
        return self.audience.rng.expovariate(rate) if rate > 0 else float("inf")

    async def run(self, duration_s: float | None = None) -> SimulatorStats:
        """Inject until `duration_s` has passed (forever when None; cancel to stop)."""
        start = time.monotonic()
        end = start + duration_s if duration_s is not None else float("inf")
        due = {kind: start + self._gap(kind) for kind in self.rates}
        while True:
            kind, when = min(due.items(), key=lambda item: item[1])
            if when >= end:
                await asyncio.sleep(max(0.0, end - time.monotonic()) if end != float("inf") else 3600)
                if end != float("inf"):
                    return self.stats
                continue
            await asyncio.sleep(max(0.0, when - time.monotonic()))
            arrival = self.audience.comment() if kind == "comment" else self.audience.dm()
            try:
                await self.inject(arrival)
            except Exception as exc:  # one failed arrival (site busy, bad creator) is not fatal
                self.stats.errors += 1
                log.warning("audience simulator: %s injection failed: %s", kind, exc)
            else:
                if kind == "comment":
                    self.stats.comments += 1
                else:
                    self.stats.dms += 1
            due[kind] = max(when, time.monotonic() - 1.0) + self._gap(kind)
