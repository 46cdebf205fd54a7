"""The account menu's "Check the platform's pages": offered where the platform can check its
pages (Douyin), and it says what it found, or why it could not run."""
from __future__ import annotations

from app.engine.platform import SelfCheck

from .conftest import run, wait_until
from .test_operator_safety import channel_rows, close_menu, right_click, row_center


def menu_texts(menu) -> list[str]:
    return [a.text() for a in menu.actions() if a.text()]


def test_the_check_is_offered_for_douyin_accounts_only(engine, qloop, qtbot, window):
    douyin = run(qloop, engine.accounts.create("douyin", "抖音店"))
    sandbox = run(qloop, engine.accounts.create("sandbox", "Demo"))
    wait_until(qloop, lambda: sorted(channel_rows(window)) == sorted([douyin, sandbox]))
    rows = channel_rows(window)
    menu = right_click(qtbot, window.channel_list, row_center(window.channel_list, rows.index(douyin)))
    assert "Check the platform's pages" in menu_texts(menu)
    close_menu(qloop, menu, window)
    menu = right_click(qtbot, window.channel_list, row_center(window.channel_list, rows.index(sandbox)))
    assert "Check the platform's pages" not in menu_texts(menu)
    close_menu(qloop, menu, window)


def test_the_check_says_why_it_could_not_run(engine, qloop, qtbot, window):
    """Browsers are off in this engine: the operator is told to try again, not shown a traceback."""
    douyin = run(qloop, engine.accounts.create("douyin", "抖音店"))
    wait_until(qloop, lambda: channel_rows(window) == [douyin])
    window.self_check(window.channels_model.item(0))
    wait_until(qloop, lambda: "self_check" in window.dialogs)
    box = window.dialogs["self_check"]
    assert box.windowTitle() == "Pages of 抖音店"
    assert box.text() == "The check could not run now; try again in a minute."
    assert "browser pool is not running" in box.informativeText()  # the engine's words, as detail


def test_what_the_check_found_is_shown_with_where_the_report_is(engine, qloop, window, monkeypatch, tmp_path):
    douyin = run(qloop, engine.accounts.create("douyin", "抖音店"))
    wait_until(qloop, lambda: channel_rows(window) == [douyin])
    found = SelfCheck(False, ("home: logged in", "missing: works: work_card"), tmp_path / "self-check.json")

    async def checked(account_id):
        assert account_id == douyin
        return found

    monkeypatch.setattr(engine, "self_check", checked)
    window.self_check(window.channels_model.item(0))
    wait_until(qloop, lambda: "self_check" in window.dialogs)
    box = window.dialogs["self_check"]
    assert box.text() == "Some pages no longer match what HisCRM expects."
    assert box.informativeText().splitlines() == [
        "home: logged in", "missing: works: work_card", f"Report saved to {tmp_path / 'self-check.json'}"]
