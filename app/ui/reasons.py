"""Why something failed, in the operator's language.

The engine's reasons are English sentences for the log, with a short code beside them
(`PlatformError.code`, a login state, an account's login status). The console shows the words
for the code from these tables, built at call time so a language switch applies at once; the
engine's own sentence and the code go to a tooltip (`reason_detail`), where support can read them.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication


def reply_failure(code: str | None) -> str:
    """Why a reply was not sent, for the footer under it and the topic list."""
    reasons = {
        "session_expired": QCoreApplication.translate(
            "Reasons", "the account is not logged in: log in again, then retry"),
        "blocked": QCoreApplication.translate(
            "Reasons", "the platform refused the reply (rate limit or risk control)"),
        "permanent": QCoreApplication.translate(
            "Reasons", "the platform cannot take this reply (deleted comment or rejected text)"),
        "transient": QCoreApplication.translate(
            "Reasons", "the platform could not be reached"),
        "timeout": QCoreApplication.translate(
            "Reasons", "the platform did not answer in time"),
        "no_platform_id": QCoreApplication.translate(
            "Reasons", "the platform did not confirm the reply"),
        "interrupted": QCoreApplication.translate(
            "Reasons", "HisCRM stopped while sending; it checks the platform before resending"),
        "uncertain": QCoreApplication.translate(
            "Reasons", "it may be on the platform already: check there, then confirm it or send it again"),
    }
    unknown = QCoreApplication.translate("Reasons", "the platform reported an error")
    return reasons.get(code or "", unknown)


def reply_waiting(code: str | None) -> str:
    """Why a queued reply waits without being tried (Message.reply_wait_code), for its footer."""
    reasons = {
        "no_worker": QCoreApplication.translate(
            "Reasons", "its account's worker is not connected to this server; it is sent once the worker is back"),
    }
    return reasons.get(code or "", QCoreApplication.translate("Reasons", "it waits to be sent"))


def reply_refusal(exc: BaseException) -> str:
    """Why the outbox did not take the operator's reply, or an action on one (under the box)."""
    from app.engine.outbox_store import ReplyNotFound, ReplyRejected, ReplyStateError

    translate = QCoreApplication.translate
    if isinstance(exc, ReplyRejected):
        reasons = {
            "empty": translate("Reasons", "The reply is empty."),
            "too_long": translate("Reasons", "The reply is too long for the platform; shorten it."),
            "bad_character": translate(
                "Reasons", "The reply contains an invisible or broken character (pasted?); remove it."),
            "no_direct_messages": translate("Reasons", "This platform cannot send direct messages from here."),
            "unknown_account": translate("Reasons", "This account was deleted meanwhile."),
            "unknown_topic": translate("Reasons", "This conversation or work is no longer there."),
            "unknown_target": translate("Reasons", "The message you answer is no longer there."),
            "target_not_sent": translate(
                "Reasons", "The reply you answer is not on the platform yet; wait until it is sent."),
        }
        return reasons.get(exc.code, translate("Reasons", "The reply cannot be sent as it is."))
    if isinstance(exc, (ReplyStateError, ReplyNotFound)):
        return translate("Reasons", "That reply changed meanwhile; look at its state again.")
    return translate("Reasons", "That did not work; the log says why.")


def monitor_problem(code: str | None) -> str:
    """Why monitoring an account failed, for the Workers view (the engine's sentence is the
    cell's tooltip)."""
    translate = QCoreApplication.translate
    reasons = {
        "transient": translate("Reasons", "the platform could not be reached or was slow; it retries by itself"),
        "rate_limited": translate("Reasons", "the platform says the account goes too fast; it waits before polling again"),
        "page_changed": translate("Reasons", "the platform changed its page; HisCRM needs an update (see the log)"),
        "bad_response": translate("Reasons", "the platform sent an answer HisCRM cannot read; it retries by itself"),
        "api_refused": translate("Reasons", "the platform refused a request; it retries by itself"),
        "page_died": translate("Reasons", "the account's page crashed; it was reopened"),
        "session_not_saved": translate("Reasons", "the login session could not be saved; log in again if it is lost"),
        "expired": translate("Reasons", "the login expired; log in again"),
        "needs_verification": translate("Reasons", "the platform asks for a verification; log in again"),
        "blocked": translate("Reasons", "the platform blocked this account"),
        "status_not_recorded": translate("Reasons", "the login state could not be saved; it tries again"),
    }
    return reasons.get(code or "", translate("Reasons", "monitoring failed; it retries by itself"))


def account_problem(login_status: str, last_error: str | None) -> str | None:
    """What is wrong with an account that an operator must act on or know about (None: nothing).
    The login state words come from app.ui.views.painting.login_state_label."""
    if login_status in ("not_logged_in", "expired"):
        return QCoreApplication.translate(
            "Reasons", "log in again to receive and send messages")
    if login_status == "needs_verification":
        return QCoreApplication.translate(
            "Reasons", "the platform asks for a verification: log in again")
    if login_status == "blocked":
        return QCoreApplication.translate(
            "Reasons", "the platform blocked this account")
    if login_status == "logged_in" and last_error:
        return QCoreApplication.translate(
            "Reasons", "monitoring failed; it retries by itself")
    return None


def login_failure(state: str) -> str:
    """The hint under a login that ended without success (the state's own words are above)."""
    hints = {
        "failed": QCoreApplication.translate(
            "Reasons", "Try again, or use “Show browser” to finish the login in a window."),
        "timeout": QCoreApplication.translate(
            "Reasons", "Nobody scanned the code in time. Try again when the phone is at hand."),
        "expired": QCoreApplication.translate(
            "Reasons", "Try again for a new QR code."),
    }
    return hints.get(state, "")


def reason_detail(text: str | None, code: str | None = None) -> str:
    """The engine's own words with the code, for a tooltip ("" when there is neither)."""
    if text and code:
        return f"{text} ({code})"
    return text or code or ""
