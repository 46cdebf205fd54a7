"""How a reply's text is compared with the platform's copy of it.

Platforms do not store a text as it was typed: a contenteditable box turns a blank line into
two line breaks, whitespace is collapsed or trimmed, emoji become codes such as "[微笑]".
After a crash, or when a send's answer is lost, the outbox must still recognise its own reply
on the platform, or it sends it again. So texts are compared by a key that forgets those
differences: this is the engine's rule, applied after the platform's own
(`Platform.normalize_text`, see `Platform.same_text`).
"""
from __future__ import annotations

import re
import unicodedata

import emoji

_EMOJI = "\ufffc"  # one emoji, or one emoji code: which one a platform shows is not compared
_CODE = re.compile(r"\[[^\[\]\s]{1,8}\]")  # "[微笑]", "[smile]": a platform's emoji code
_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """`text` with every emoji and emoji code as one mark, whitespace runs (blank lines
    included) as one space, and no surrounding whitespace."""
    text = unicodedata.normalize("NFC", text)
    text = emoji.replace_emoji(text, replace=_EMOJI)
    text = _CODE.sub(_EMOJI, text).replace("\ufe0f", "")  # a stray variation selector
    return _SPACE.sub(" ", text).strip()
