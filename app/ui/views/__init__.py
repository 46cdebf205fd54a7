"""Delegates that paint the list rows: channels, topics and chat bubbles."""
