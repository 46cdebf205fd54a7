"""The live self-check: open each page the adapter uses (the creator pages and the
www.douyin.com page of the realtime pushes), with a logged-in account's page, and report what of anatomy/ still matches and which endpoints the pages called, as a
JSON file an operator can send us. The adapter itself stops at the first thing missing;
this looks at everything, so one run shows the whole drift.

Where there is no internet (or Douyin cannot be reached) the report says so instead of
listing every selector as missing. The CLI command and the account-menu button that run it
are cli.py (`hiscrm douyin check`) and the console.
"""
from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from .anatomy import API, CHAT, COMMENTS, HOME, LOGIN, REALTIME, WORKS, Anatomy
from .realtime import missing_stores, store_anchors

if TYPE_CHECKING:
    from playwright.async_api import Page

PAGES = (HOME, WORKS, COMMENTS, CHAT, REALTIME)
NAVIGATION_TIMEOUT_MS = 30_000
SETTLE_TIMEOUT_MS = 10_000
OFFLINE_ERRORS = ("ERR_NAME_NOT_RESOLVED", "ERR_INTERNET_DISCONNECTED", "ERR_ADDRESS_UNREACHABLE",
                  "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_TIMED_OUT", "ERR_PROXY_CONNECTION_FAILED")

# How many nodes each selector of a page matches, and which of its texts show.
_MATCHES_JS = """(a) => {
  const count = (s) => { try { return document.querySelectorAll(s).length; } catch (e) { return -1; } };
  const text = document.body ? document.body.innerText : '';
  const selectors = {};
  for (const [key, sels] of Object.entries(a.selectors)) selectors[key] = Object.fromEntries(sels.map(s => [s, count(s)]));
  const texts = {};
  for (const [key, list] of Object.entries(a.texts)) texts[key] = list.filter(t => text.includes(t));
  return {selectors, texts};
}"""


async def run_self_check(page: "Page") -> dict[str, Any]:
    """Visit every page of PAGES in `page` (logged in) and describe what matched."""
    seen: Counter[str] = Counter()

    def on_response(response: Any) -> None:
        name = API.endpoint_of(response.url)
        if name:
            seen[name] += 1

    page.on("response", on_response)
    report: dict[str, Any] = {"checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "reachable": True, "pages": []}
    try:
        for anatomy in PAGES:
            entry = await _check_page(page, anatomy)
            report["pages"].append(entry)
            if entry.get("offline"):
                report["reachable"] = False
                report["message"] = ("Douyin could not be reached from this machine (no internet, or a "
                                     f"proxy/firewall blocks it): {entry['error']}")
                break
            if not entry["logged_in"]:
                report["message"] = "the account is not logged in: log it in first, then run the check again"
                break
    finally:
        page.remove_listener("response", on_response)
    report["endpoints_seen"] = dict(seen)
    report["endpoints_not_seen"] = [e.name for e in API.endpoints if e.name not in seen]
    report["missing"] = [f"{p['page']}: {what}" for p in report["pages"] for what in p.get("missing", [])]
    return report


async def _check_page(page: "Page", anatomy: Anatomy) -> dict[str, Any]:
    entry: dict[str, Any] = {"page": anatomy.name, "url": anatomy.url}
    try:
        await page.goto(anatomy.url, timeout=NAVIGATION_TIMEOUT_MS)
    except PlaywrightError as exc:
        first_line = str(exc).strip().splitlines()[0]
        entry.update(error=first_line, logged_in=False, offline=any(code in first_line for code in OFFLINE_ERRORS))
        return entry
    with contextlib.suppress(PlaywrightError):  # pages that keep polling never go idle
        await page.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)
    entry["final_url"] = page.url
    # www.douyin.com shows itself logged out too (no redirect): its stores are what matter
    entry["logged_in"] = anatomy is REALTIME or bool(LOGIN.url_pattern("logged_in").search(page.url))
    if not entry["logged_in"]:
        return entry
    selectors = {key: anatomy.selectors(key) for key in anatomy.data.get("selectors", {})}
    texts = {key: anatomy.texts(key) for key in anatomy.data.get("texts", {})}
    found = await page.evaluate(_MATCHES_JS, {"selectors": selectors, "texts": texts})
    entry.update(found)
    # Only what a page shows without clicking can be missing here (a reply box is not).
    entry["missing"] = [f"the {key} marker" for key, counts in found["selectors"].items()
                        if key == "ready" and not any(n > 0 for n in counts.values())]
    if anatomy is REALTIME:
        entry["missing"] += [f"the {name} (React props above {store_anchors(name)})"
                             for name in await missing_stores(page)]
    return entry


def summary(report: dict[str, Any]) -> list[str]:
    """The report in a few lines: each page's state, what is missing, the verdict."""
    lines = []
    for page in report["pages"]:
        state = "logged in" if page.get("logged_in") else page.get("error") or f"not logged in ({page.get('final_url')})"
        lines.append(f"{page['page']}: {state}")
    lines.extend(f"missing: {missing}" for missing in report["missing"])
    if report.get("message"):
        lines.append(report["message"])
    elif not report["missing"]:
        lines.append("every page matched what the adapter expects")
    return lines


def passed(report: dict[str, Any]) -> bool:
    return report["reachable"] and "message" not in report and not report["missing"]


def write_report(report: dict[str, Any], data_dir: Path) -> Path:
    """Save the report as <data_dir>/douyin/self-check-<time>.json; returns its path."""
    folder = Path(data_dir) / "douyin"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"self-check-{stamp}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
