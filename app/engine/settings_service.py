"""Changing the settings of a running engine: validate, save, apply, announce.

Every service holds the engine's one Settings object and reads it when it needs a value, so
applying a change means copying it into that object; services that keep a value of their own
(the pool's page budget and poll slots, the UI's language and theme) listen for the
`SettingsChanged` event this service publishes and adjust at once. Nothing else writes the
settings file while the engine runs.

Platforms' own blocks (`platforms.<name>`) are validated with the model each platform
declares (`Platform.settings_model`), at start-up and on every change.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .bus import EventBus
from .events import SettingsChanged
from .platform import PlatformRegistry, PlatformSettings
from .settings import Settings, SettingsError, describe_errors, save_settings

log = logging.getLogger(__name__)


class SettingsService:
    def __init__(self, settings: Settings, path: Path, bus: EventBus, platforms: PlatformRegistry) -> None:
        self.settings = settings
        self.path = path
        self._bus = bus
        self._platforms = platforms
        for name in platforms.names():
            self._checked_block(settings, name)  # a wrong value stops the start with its reason

    def platform_config(self, name: str) -> PlatformSettings:
        """The platform's block of the current settings, validated with its model."""
        return self._checked_block(self.settings, name)

    def update(self, **changes: Any) -> Settings:
        """Validate the settings with `changes` applied, save them, apply them to the running
        engine and publish SettingsChanged; returns the live Settings.

        Raises pydantic's ValidationError (nothing saved or applied) when a value is wrong,
        SettingsError when a platform block is, and OSError when the file cannot be written
        (nothing applied either: what runs is what the file says)."""
        new = Settings.model_validate({**self.settings.model_dump(), **changes})
        for name in self._platforms.names():
            self._checked_block(new, name)
        changed = frozenset(n for n in Settings.model_fields if getattr(new, n) != getattr(self.settings, n))
        if not changed:
            return self.settings
        save_settings(new, self.path)
        self._apply(new, changed)
        log.info("settings changed: %s", ", ".join(sorted(changed)))
        self._bus.publish(SettingsChanged(changed, self.settings))
        return self.settings

    def update_platform(self, name: str, **changes: Any) -> Settings:
        """Change some of platform `name`'s settings (validated with its model)."""
        block = {**self.settings.platforms.get(name, {}), **changes}
        return self.update(platforms={**self.settings.platforms, name: block})

    def _checked_block(self, settings: Settings, name: str) -> PlatformSettings:
        model = self._platforms.get(name).settings_model
        try:
            return model.model_validate(settings.platforms.get(name, {}))
        except ValidationError as exc:
            raise SettingsError(
                f"{self.path}: invalid settings: {describe_errors(exc, f'platforms.{name}.')}") from exc

    def _apply(self, new: Settings, changed: frozenset[str]) -> None:
        """Copy `new` into the live object. The poll range is validated on every assignment,
        so the bound that moves away from the other goes first."""
        names = [n for n in Settings.model_fields if n in changed]
        if "poll_interval_max_s" in names and new.poll_interval_min_s > self.settings.poll_interval_max_s:
            names.remove("poll_interval_max_s")
            names.insert(0, "poll_interval_max_s")
        for name in names:
            setattr(self.settings, name, getattr(new, name))
