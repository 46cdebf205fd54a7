"""Recognising our reply in the platform's copy: the engine's rule and a platform's own."""
from __future__ import annotations

import pytest

from app.engine.platform import Platform
from app.engine.reply_text import text_key


@pytest.mark.parametrize("sent, stored", [
    ("a\n\nb", "a\n\n\nb"),  # a contenteditable box adds a line break for a blank line
    ("  Thanks!  ", "Thanks!"),  # trimmed
    ("99 元  包邮", "99 元 包邮"),  # whitespace collapsed
    ("line one\nline two", "line one\r\nline two"),
    ("好的😊", "好的[微笑]"),  # emoji shown as the platform's code
    ("family 👨‍👩‍👧 trip", "family [家庭] trip"),  # a ZWJ sequence is one emoji
    ("❤️ you", "❤ you"),  # with or without the variation selector
    ("café", "cafe\u0301"),  # composed or not
])
def test_texts_the_platform_stores_differently_have_the_same_key(sent, stored):
    assert text_key(sent) == text_key(stored)


@pytest.mark.parametrize("a, b", [
    ("ok", "okay"), ("a b", "ab"), ("好的😊", "好的"), ("price 99", "price 98"),
])
def test_different_texts_keep_different_keys(a, b):
    assert text_key(a) != text_key(b)


class _Shouting(Platform):
    """A platform that stores every text upper-cased (its own rule, declared by the hook)."""

    name, label = "shouting", "Shouting"

    def normalize_text(self, text: str) -> str:
        return text.upper()

    def home_url(self): ...
    async def login(self, page, io): ...
    async def check_session(self, page): ...
    async def watch(self, page, account, sink): ...
    async def poll(self, page, account, sink): ...
    async def reply(self, page, account, target, text): ...
    async def find_reply(self, page, account, target, text, since): ...


def test_a_platform_s_own_rule_applies_before_the_engine_s():
    platform = _Shouting()
    assert platform.same_text("hello\n\nworld 😊", "HELLO\n\n\nWORLD [微笑]")
    assert not platform.same_text("hello", "HELLO THERE")
