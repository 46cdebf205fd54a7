"""What the adapter relies on in Douyin's pages, as data: one TOML file per page in
anatomy/ (its URL, selectors, class-name prefixes, texts, timings) and api.toml (the JSON
endpoints by host and path).

Why data: Douyin's class names end in hashes that change with every deploy, and its texts and
URLs move too. When the live site drifts, the fix is an edit of one file, and the error names
the key that no longer matches ("page changed: <what> not found on <page>") with a snapshot
of the page (see `snapshot_page_change`).
"""
from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import PageChanged

if TYPE_CHECKING:
    from playwright.async_api import Page

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anatomy:
    """One page's (or the API's) data file."""

    name: str
    data: dict[str, Any]

    @property
    def url(self) -> str:
        return self.data["url"]

    def selectors(self, key: str) -> list[str]:
        value = self.data["selectors"][key]
        return [value] if isinstance(value, str) else list(value)

    def selector(self, key: str) -> str:
        """All of a key's selectors as one CSS selector list (the first that exists wins)."""
        return ", ".join(self.selectors(key))

    def class_prefix(self, key: str) -> str:
        return self.data["class_prefixes"][key]

    def prefix_selector(self, key: str) -> str:
        """CSS for elements whose class starts a word with the prefix (the hash varies)."""
        return f'[class*="{self.class_prefix(key)}"]'

    def prefix_xpath(self, key: str) -> str:
        """The same as an XPath node test, for `ancestor::` steps CSS cannot express."""
        return f"*[contains(concat(' ', normalize-space(@class)), ' {self.class_prefix(key)}')]"

    def texts(self, key: str) -> list[str]:
        value = self.data["texts"][key]
        return [value] if isinstance(value, str) else list(value)

    def text(self, key: str) -> str:
        return self.texts(key)[0]

    def url_pattern(self, key: str) -> re.Pattern[str]:
        return re.compile(self.data["urls"][key])

    def timing(self, key: str) -> float:
        return float(self.data["timing"][key])

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.data.get(section, {}).get(key, default)


@dataclass(frozen=True)
class Endpoint:
    name: str
    hosts: tuple[str, ...]
    path: re.Pattern[str]
    verified: str

    def matches(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.hostname in self.hosts and bool(self.path.search(parts.path))


class Api(Anatomy):
    @cached_property
    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(name, tuple(spec["hosts"]), re.compile(spec["path"]), spec.get("verified", ""))
            for name, spec in self.data["endpoints"].items()
        ]

    def endpoint_of(self, url: str) -> str | None:
        """The name of the endpoint a response URL belongs to (None: not one we read)."""
        for endpoint in self.endpoints:
            if endpoint.matches(url):
                return endpoint.name
        return None


def load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("anatomy", f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


API = Api("api", load("api"))
LOGIN = Anatomy("login", load("login"))
HOME = Anatomy("home", load("home"))
WORKS = Anatomy("works", load("works"))
COMMENTS = Anatomy("comments", load("comments"))
CHAT = Anatomy("chat", load("chat"))
REALTIME = Anatomy("realtime", load("realtime"))


async def snapshot_page_change(page: "Page", anatomy: Anatomy, what: str, data_dir: Path | None) -> PageChanged:
    """The PageChanged error for `what` missing on this page, after saving the page's HTML and
    a screenshot under <data_dir>/douyin/page-changes/<time>-<page>/ so the drift can be
    seen and the data file fixed. Saving is best effort: the error is what matters."""
    folder: Path | None = None
    if data_dir is not None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        folder = Path(data_dir) / "douyin" / "page-changes" / f"{stamp}-{anatomy.name}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "what.txt").write_text(f"{what}\n{page.url}\n", encoding="utf-8")
            (folder / "page.html").write_text(await page.content(), encoding="utf-8")
            await page.screenshot(path=str(folder / "screenshot.png"), full_page=True)
        except Exception as exc:  # a dead page or a full disk must not hide the real error
            log.warning("douyin: could not save the page-change snapshot in %s: %s", folder, exc)
    log.error("douyin: page changed: %s not found on %s (%s)", what, anatomy.name, page.url)
    return PageChanged(what, anatomy.name, str(folder) if folder else None)
