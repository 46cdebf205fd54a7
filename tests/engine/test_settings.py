"""Settings: defaults, round trip, and clear errors for a broken settings file."""
import json
import logging

import pytest

from app.engine.errors import StartupError
from app.engine.paths import app_paths
from app.engine.settings import Settings, SettingsError, load_settings, save_settings


def test_hiscrm_home_puts_everything_under_one_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HISCRM_HOME", str(tmp_path))
    paths = app_paths().ensure()
    assert paths.data_dir.is_relative_to(tmp_path)
    assert paths.settings_file.is_relative_to(tmp_path)
    assert paths.default_database_url == f"sqlite:///{(tmp_path / 'data' / 'hiscrm.db').as_posix()}"


def test_missing_file_gives_secure_defaults(tmp_path):
    settings = load_settings(tmp_path / "settings.json")
    assert settings.server.host == "127.0.0.1"
    assert settings.platforms == {}  # each platform's defaults: its own settings model


def test_a_file_from_before_platform_blocks_keeps_its_sandbox_settings(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"first_run_done": True, "sandbox": {"enabled": False, "port": 8123}}))
    settings = load_settings(path)
    assert settings.platforms["sandbox"] == {"enabled": False, "port": 8123}
    save_settings(settings, path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert "sandbox" not in saved and saved["platforms"]["sandbox"]["port"] == 8123


def test_round_trip_keeps_values_and_unknown_keys(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"language": "zh_CN", "future_option": 1}), encoding="utf-8")
    settings = load_settings(path)
    settings.poll_interval_min_s = 20
    save_settings(settings, path)
    again = load_settings(path)
    assert again.language == "zh_CN" and again.poll_interval_min_s == 20
    assert json.loads(path.read_text(encoding="utf-8"))["future_option"] == 1


def test_unknown_key_is_warned_about(tmp_path, caplog):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"languag": "en"}), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        load_settings(path)
    assert "languag" in caplog.text


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "not a readable JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"language": "klingon"}), "language"),
        (json.dumps({"poll_interval_min_s": 60, "poll_interval_max_s": 10}), "poll_interval_max_s"),
        (json.dumps({"server": {"port": 70000}}), "server.port"),
    ],
)
def test_bad_file_is_reported_clearly_and_left_alone(tmp_path, content, expected):
    path = tmp_path / "settings.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert expected in str(info.value) and str(path) in str(info.value)
    assert path.read_text(encoding="utf-8") == content


def test_assignment_is_validated():
    settings = Settings()
    with pytest.raises(ValueError):
        settings.max_active_pages = 0


@pytest.mark.parametrize("text, message", [
    ('{"server": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ('{"database_url": "sqlite:///\\ud800.db"}', "not valid Unicode"),
])
def test_a_hostile_settings_file_is_one_clear_error_not_a_traceback(tmp_path, text, message):
    path = tmp_path / "settings.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message) as info:
        load_settings(path)
    assert isinstance(info.value, StartupError) and info.value.exit_code == 2
    assert path.read_text(encoding="utf-8") == text  # left for the operator to fix
