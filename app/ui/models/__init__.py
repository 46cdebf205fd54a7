"""Qt list models over the engine's IM views: channels, topics, messages."""
from .channels import ChannelsModel
from .keyed import ObjectRole
from .messages import MessagesModel
from .topics import TopicsModel

__all__ = ["ChannelsModel", "MessagesModel", "ObjectRole", "TopicsModel"]
