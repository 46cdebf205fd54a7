"""The console's dialogs: accounts (+ add form), login, proxies, workers, settings."""
