"""The one error type that means "HisCRM cannot start with this setup".

Every problem an operator can fix before starting again (a settings file, the database, the
folders, the key file) raises a subclass of StartupError whose message is one line that says
what is wrong and where. The command line prints it and exits with `exit_code`; the console
shows it in a message box. Catching this base keeps both from printing a traceback for any of
them, including kinds added later.
"""
from __future__ import annotations


class StartupError(Exception):
    """HisCRM cannot start or run this command; str(error) is the operator's message."""

    exit_code = 1  # 2 for a configuration the operator must edit (see SettingsError)


class FolderError(StartupError):
    """A folder or file HisCRM keeps its data in cannot be created, read or written."""


def describe_os_error(error: OSError) -> str:
    """'permission denied' rather than '[Errno 13] Permission denied: '/x'' (the path is
    named by the caller's message already)."""
    reason = error.strerror or type(error).__name__
    return reason[:1].lower() + reason[1:]
