"""Widgets and drawing helpers that know nothing of the engine or the app."""
