"""The Douyin fixtures: shared/fixtures/douyin beside the project (synthetic values, the real
platform's shapes), read where they are rather than copied into the project."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

def _fixtures() -> Path:
    """shared/fixtures/douyin beside the checkout: the project's parent folder, or further up
    for a git worktree kept in a subfolder (wt/<name>) of that folder."""
    here = Path(__file__).resolve().parents[3]
    for folder in here.parents:
        if (folder / "shared" / "fixtures" / "douyin").is_dir():
            return folder / "shared" / "fixtures" / "douyin"
    return here.parent / "shared" / "fixtures" / "douyin"


FIXTURES = _fixtures()
SELF_UID = "1000000000000001"  # our account in every fixture (测试创作者)
CREATOR = "测试创作者"


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def body(name: str) -> Any:
    return json.loads(text(name))
