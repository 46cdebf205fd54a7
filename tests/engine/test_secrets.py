"""SecretBox: the key lives in the OS keyring, or in a private file when there is none."""
import logging
import stat
import sys

import keyring
import pytest
from cryptography.fernet import Fernet
from keyring.backend import KeyringBackend

from app.engine.errors import StartupError
from app.engine.paths import app_paths
from app.engine.secrets import KEY_FILE_NAME, SecretBox, SecretError
from tests.fs_faults import read_only_folder


class MemoryKeyring(KeyringBackend):
    """A working keyring backend kept in memory (this machine has no OS keyring)."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


@pytest.fixture
def paths(tmp_path):
    return app_paths(tmp_path / "home").ensure()


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_without_keyring_the_key_file_is_private_and_stable(paths, no_keyring, caplog):
    with caplog.at_level(logging.WARNING):
        box = SecretBox.from_keyring(paths)
    key_file = paths.config_dir / KEY_FILE_NAME  # not beside the database it protects
    assert box.source == "file" and box.protected_by_file_permissions_only
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (paths.data_dir / KEY_FILE_NAME).exists()
    assert "no usable OS keyring" in caplog.text
    token = box.encrypt(b"session cookie")
    assert b"session cookie" not in token
    # A later run (same data dir) reads what this one wrote.
    assert SecretBox.from_keyring(paths).decrypt(token) == b"session cookie"


def test_keyring_holds_the_key_and_adopts_an_earlier_key_file(paths, no_keyring, memory_keyring):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    token = SecretBox.from_keyring(paths).encrypt(b"old secret")  # written without a keyring
    keyring.set_keyring(memory_keyring)
    box = SecretBox.from_keyring(paths)
    assert box.source == "keyring"
    assert box.decrypt(token) == b"old secret"  # nothing encrypted earlier is lost
    assert not (paths.config_dir / KEY_FILE_NAME).exists()  # the key left the disk
    assert memory_keyring.entries
    assert not box.protected_by_file_permissions_only


def test_data_from_another_key_is_a_clear_error():
    token = SecretBox.generate().encrypt(b"x")
    with pytest.raises(SecretError, match="cannot be read"):
        SecretBox.generate().decrypt(token)


def test_a_key_file_an_older_version_left_beside_the_database_moves_to_the_config_folder(paths, no_keyring):
    old = paths.data_dir / KEY_FILE_NAME
    key = Fernet.generate_key()
    old.write_bytes(key)
    token = Fernet(key).encrypt(b"old session")
    box = SecretBox.from_keyring(paths)
    assert box.decrypt(token) == b"old session"
    assert not old.exists()
    assert (paths.config_dir / KEY_FILE_NAME).read_bytes() == key


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_key_file_readable_by_others_is_made_private_when_read(paths, no_keyring):
    SecretBox.from_keyring(paths)
    key_file = paths.config_dir / KEY_FILE_NAME
    key_file.chmod(0o644)  # a restore from a backup, a careless copy
    SecretBox.from_keyring(paths)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_config_folder_that_cannot_be_written_is_a_clear_startup_error(tmp_path, no_keyring):
    paths = app_paths(tmp_path / "home")
    with read_only_folder(paths.config_dir):
        paths.ensure()
        with pytest.raises(StartupError, match=r"cannot keep the encryption key in .*secret\.key: "):
            SecretBox.from_keyring(paths)
