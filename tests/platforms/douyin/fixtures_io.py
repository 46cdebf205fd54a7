"""The Douyin fixtures (a copy of shared/fixtures/douyin: synthetic values, real shapes)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SELF_UID = "1000000000000001"  # our account in every fixture (测试创作者)
CREATOR = "测试创作者"


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def body(name: str) -> Any:
    return json.loads(text(name))
