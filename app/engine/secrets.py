"""Encryption at rest for what would let someone else act as our accounts.

Browser storage states (session cookies) and proxy passwords are stored encrypted with a
Fernet key (AES-128-CBC + HMAC). The key lives in the operating system's keyring (Windows
Credential Manager, macOS Keychain, Secret Service) so a copied database file alone is useless.

Where no keyring works (headless Linux, CI, a locked-down desktop), the key is kept in a file
in the config directory readable only by the user (0600, corrected whenever it is read), and a
warning says so; the settings dialog says it too (`protected_by_file_permissions_only`). It is
not kept beside the database it protects, so a copy of the data folder (a backup, a support
bundle) carries no key; a key file an older version left in the data folder is moved. A key
file left by such a run is moved into the keyring as soon as a keyring works, so nothing
encrypted earlier is lost.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import keyring
from cryptography.fernet import Fernet, InvalidToken
from keyring.errors import KeyringError

from .errors import FolderError, describe_os_error
from .paths import AppPaths, make_private_file

log = logging.getLogger(__name__)

KEYRING_SERVICE = "HisCRM"
KEYRING_ENTRY = "storage-key"
KEY_FILE_NAME = "secret.key"


class SecretError(Exception):
    """Encrypted data cannot be read (another key, damaged data)."""


class SecretBox:
    """Encrypts and decrypts small secrets with one Fernet key."""

    def __init__(self, key: bytes, *, source: str = "memory") -> None:
        self._fernet = Fernet(key)
        self.source = source  # "keyring" | "file" | "memory": where the key came from

    @property
    def protected_by_file_permissions_only(self) -> bool:
        """True when the key is a file: the saved sessions are then as safe as this user's
        files are (anyone who can read the config folder can use them)."""
        return self.source == "file"

    @classmethod
    def generate(cls) -> "SecretBox":
        """A box with a fresh random key (tests, throwaway data)."""
        return cls(Fernet.generate_key())

    @classmethod
    def from_keyring(cls, paths: AppPaths) -> "SecretBox":
        """The box of this installation: its key from the OS keyring, else the key file."""
        key_file = paths.config_dir / KEY_FILE_NAME
        try:
            _move_old_key_file(paths.data_dir / KEY_FILE_NAME, key_file)
            key = _key_from_keyring(key_file)
            if key is not None:
                return cls(key, source="keyring")
            log.warning(
                "no usable OS keyring; the encryption key is kept in %s (readable by this user "
                "only). Anyone who can read that folder can read the saved login sessions.",
                key_file,
            )
            return cls(_key_from_file(key_file), source="file")
        except OSError as exc:
            raise FolderError(f"cannot keep the encryption key in {key_file}: "
                              f"{describe_os_error(exc)}") from exc

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise SecretError(
                "encrypted data cannot be read with this installation's key "
                "(the key was replaced or the data is damaged)"
            ) from None


def _keyring_usable() -> bool:
    """False for keyring's 'fail' backend and for a chainer with no working backend."""
    backend = keyring.get_keyring()
    try:
        return float(backend.priority) > 0  # type: ignore[attr-defined]
    except Exception:  # a backend whose priority check itself fails is not usable
        return False


def _key_from_keyring(key_file: Path) -> bytes | None:
    """The key stored in the keyring (created there, or moved there from the key file), or
    None when no keyring can be used."""
    if not _keyring_usable():
        return None
    try:
        stored = keyring.get_password(KEYRING_SERVICE, KEYRING_ENTRY)
        if stored:
            return stored.encode("ascii")
        key = key_file.read_bytes().strip() if key_file.exists() else Fernet.generate_key()
        keyring.set_password(KEYRING_SERVICE, KEYRING_ENTRY, key.decode("ascii"))
        if keyring.get_password(KEYRING_SERVICE, KEYRING_ENTRY) != key.decode("ascii"):
            raise KeyringError("the keyring did not keep the key")
    except (KeyringError, OSError, RuntimeError) as exc:  # e.g. Secret Service without D-Bus
        log.info("OS keyring unavailable (%s)", exc)
        return None
    if key_file.exists():
        key_file.unlink()
        log.info("moved the encryption key from %s into the OS keyring", key_file)
    return key


def _move_old_key_file(old: Path, key_file: Path) -> None:
    """Versions before 0.2 kept the key file in the data folder, beside the database."""
    if old.exists() and not key_file.exists():
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.move(old, key_file)
        log.info("moved the encryption key file from %s to %s", old, key_file)


def _key_from_file(key_file: Path) -> bytes:
    """Read the key file (made private again if its mode was loosened), or create it with
    owner-only permissions."""
    if key_file.exists():
        make_private_file(key_file)
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL + mode 0600: the key is never readable by others, not even for a moment.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it just now
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
