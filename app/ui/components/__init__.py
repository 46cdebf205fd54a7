"""Widgets that work with the engine: the panes of the main window and the search box."""
