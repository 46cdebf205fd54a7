"""The www.douyin.com page that brings new DMs and comment notices as they happen.

The creator centre has no push channel; www.douyin.com's page does: its websocket drops new
messages into `imStore.msgListToPush` (emptied again within about a second) and comment
notices into `noticeStore.noticePushList` (cleared as soon as their toast renders). An awake
account keeps one such page open in its own context (the same cookies, so the same session)
and a small script in that page reads both buffers every `read_every_s` through the page's
own state (React props above the anchors of anatomy/realtime.toml), and the notices' buffer
also the moment their toast box changes (it may be cleared sooner than the timer comes),
handing each new item to Python once through a binding. Nothing is fetched or polled over HTTP: the page's own
websocket does the work, so this costs one page and a timer. The feed would also play its
video: that page (only that one) is given no media, images or fonts (anatomy's `load`).

What the script passes on is copied without any key starting with "__": the stores'
`__internal_ctx` holds the IM token and device ids, which must never leave the page. Numbers
JavaScript cannot hold exactly (a notice's 19-digit `nid`) are passed as null: their string
twins (`nid_str`) are what the parsers trust.

When the page no longer has what this relies on (the anchor, a store, a buffer), the error
is a PageChanged with a snapshot, like any other page's drift.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from playwright.async_api import Error as PlaywrightError

from .anatomy import REALTIME, snapshot_page_change
from .errors import PageChanged

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Route

BINDING = "__hiscrmRealtime"
READY_TIMEOUT_MS = 20_000

# Find the stores, then read their buffers on a timer; each item is passed on once. Returns
# the stores it could not find (nothing runs then). A store or buffer that disappears later
# is reported once as `lost`, and the reading stops.
_READER_JS = """([spec, binding]) => {
  const find = (store) => {
    for (const sel of store.anchors) for (const node of document.querySelectorAll(sel)) {
      const key = Object.keys(node).find(k => k.startsWith('__reactFiber$') || k.startsWith('__reactInternalInstance$'));
      let fiber = key ? node[key] : null;
      for (let i = 0; fiber && i < spec.levels; i++, fiber = fiber.return) {
        const props = fiber.memoizedProps;
        if (props && typeof props === 'object' && props[store.name] && typeof props[store.name] === 'object')
          return props[store.name];
      }
    }
    return null;
  };
  const stores = {};
  for (const store of spec.stores) stores[store.name] = find(store);
  const missing = spec.stores.filter(s => !stores[s.name]).map(s => s.name);
  if (missing.length || !spec.start || window[binding + 'Timer']) return missing;
  const clean = (key, value) => {
    if (key.startsWith('__')) return undefined;  // __internal_ctx: the IM token, device ids
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return null;
    return value;
  };
  const copy = (value) => JSON.parse(JSON.stringify(value, clean));
  const profileOf = (map, uid) => map ? (typeof map.get === 'function' ? map.get(uid) : map[uid]) : undefined;
  const seen = new Set();
  const buffer = (store) => {
    const value = stores[store.name] && stores[store.name][store.buffer];
    return value && typeof value === 'object' && typeof value.length === 'number' ? value : null;
  };
  const tick = () => {
    const out = {}, lost = [];
    for (const store of spec.stores) {
      let items = buffer(store);
      if (!items) { stores[store.name] = find(store); items = buffer(store); }  // re-created
      if (!items) { lost.push(store.name + '.' + store.buffer); continue; }
      const fresh = [];
      for (const item of Array.from(items)) {
        const id = item && item[store.id];
        if (id === undefined || id === null || seen.has(store.name + ':' + id)) continue;
        seen.add(store.name + ':' + id);
        fresh.push(copy(item));
      }
      if (!fresh.length) continue;
      out[store.name] = {[store.buffer]: fresh};
      if (store.profiles) {
        const map = stores[store.name][store.profiles], profiles = {};
        for (const item of fresh) for (const uid of String(item.conversationId || '').split(':').slice(2)) {
          const profile = profileOf(map, uid);
          if (profile) profiles[uid] = copy(profile);
        }
        out[store.name][store.profiles] = profiles;
      }
    }
    if (lost.length) { clearInterval(window[binding + 'Timer']); out.lost = lost; }
    if (Object.keys(out).length) window[binding](JSON.stringify(out));
  };
  window[binding + 'Timer'] = setInterval(tick, spec.every_ms);
  for (const store of spec.stores) {  // a buffer cleared as its toast renders: read it then too
    const box = store.read_on_change && document.querySelector(store.read_on_change);
    if (box) new MutationObserver(tick).observe(box, {childList: true, subtree: true});
  }
  tick();
  return [];
}"""


def reader_spec(*, start: bool = True) -> dict[str, object]:
    """What the reader looks for; `start=False` only looks (the self-check)."""
    stores = [{"name": name, **spec} for name, spec in REALTIME.data["stores"].items()]
    return {"stores": stores, "levels": REALTIME.get("react", "levels"),
            "every_ms": REALTIME.timing("read_every_s") * 1000, "start": start}


async def missing_stores(page: "Page") -> list[str]:
    """The stores the reader would not find on this www.douyin.com page (nothing is started)."""
    return await page.evaluate(_READER_JS, [reader_spec(start=False), BINDING])


def store_anchors(name: str) -> str:
    return ", ".join(REALTIME.data["stores"][name]["anchors"])


async def open_realtime_page(context: "BrowserContext", on_push: Callable[[str], None],
                             data_dir: Path | None) -> "Page":
    """A new www.douyin.com page in the account's context whose buffers go to `on_push` (a
    JSON text: {"imStore": {...}, "noticeStore": {...}, "lost": [...]}) from now on. Raises
    PageChanged (after a snapshot) when the page lacks its anchor or a store; the page is
    closed then."""
    page = await context.new_page()
    try:
        await page.route("**/*", _skip_heavy)
        await page.expose_binding(BINDING, lambda _source, payload: on_push(payload))
        await page.goto(REALTIME.url, timeout=READY_TIMEOUT_MS)
        try:
            await page.locator(REALTIME.selector("ready")).first.wait_for(state="attached", timeout=READY_TIMEOUT_MS)
        except PlaywrightError:
            raise await snapshot_page_change(page, REALTIME, f"the top bar's {REALTIME.selector('ready')}",
                                             data_dir) from None
        missing = await page.evaluate(_READER_JS, [reader_spec(), BINDING])
        if missing:
            raise await snapshot_page_change(page, REALTIME, " and ".join(
                f"the {name} (React props above {store_anchors(name)})" for name in missing), data_dir)
    except BaseException:
        with contextlib.suppress(PlaywrightError):
            await page.close()
        raise
    return page


async def _skip_heavy(route: "Route") -> None:
    """Abort what the stores do not need (the feed's video, covers, fonts); everything else
    goes on as if not routed (to the context's routes, if any, else the network)."""
    if route.request.resource_type in REALTIME.get("load", "skip_resource_types", []):
        await route.abort("blockedbyclient")
    else:
        await route.fallback()


async def lost_error(page: "Page", lost: list[str], data_dir: Path | None) -> PageChanged:
    """The drift a running reader reported: a buffer it read before is gone."""
    return await snapshot_page_change(page, REALTIME, " and ".join(f"the {what} buffer" for what in lost), data_dir)
