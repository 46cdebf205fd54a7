"""A fault that repeats (a full disk) is logged once a minute per account, in one line."""
import logging
import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from app.engine.logs import DISK_FULL, RepeatFilter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def logged():
    """A logger whose records pass a RepeatFilter on a hand-moved clock into a list."""
    clock = Clock()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(RepeatFilter(clock=clock))
    logger = logging.getLogger("test.repeats")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, records, clock
    logger.removeHandler(handler)


def disk_full_error():
    try:
        raise sa_exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database or disk is full"))
    except sa_exc.OperationalError as exc:
        return exc


def test_a_full_disk_logs_one_line_per_account_and_minute_not_a_flood_of_tracebacks(logged):
    logger, records, clock = logged
    error = disk_full_error()
    for second in range(60):  # 5 failures a second on two accounts, for a minute
        clock.now = 1000.0 + second
        for _ in range(5):
            for account in ("acc-a", "acc-b"):
                logger.error("%s: storing the crawl failed", account, exc_info=error)
    assert [r.getMessage() for r in records] == [
        f"acc-a: storing the crawl failed ({DISK_FULL})",
        f"acc-b: storing the crawl failed ({DISK_FULL})",
    ]
    assert all(r.exc_info is None for r in records)  # no traceback for a full disk

    clock.now = 1061.0
    logger.error("%s: storing the crawl failed", "acc-a", exc_info=error)
    assert records[-1].getMessage().endswith("(the same happened 299 more times in the last minute)")


def test_other_errors_keep_their_traceback_and_info_is_never_held_back(logged):
    logger, records, _clock = logged
    try:
        raise ValueError("a bug")
    except ValueError:
        logger.exception("handler failed")
    for _ in range(3):
        logger.info("poll done")
    assert records[0].exc_info is not None
    assert [r.getMessage() for r in records[1:]] == ["poll done"] * 3


def test_two_handlers_show_the_same_records(tmp_path):
    from app.engine.logs import setup_logging

    log_file = setup_logging(tmp_path / "logs")
    logger = logging.getLogger("test.two-handlers")
    for _ in range(3):
        logger.warning("the same warning")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert log_file.read_text().count("the same warning") == 1
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_hiscrm", False):
            logging.getLogger().removeHandler(handler)
            handler.close()
