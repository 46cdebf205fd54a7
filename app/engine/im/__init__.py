"""IM views: channels (accounts) -> topics (works, conversations) -> messages."""
