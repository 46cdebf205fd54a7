"""The Douyin (抖音) platform: accounts managed through the creator centre
(creator.douyin.com). parsers.py reads the JSON the pages receive and the state they hold,
anatomy/ describes the pages as data, adapter.py drives them in Chromium. Registered under
the "hiscrm.platforms" entry point as the class `DouyinPlatform`: each engine makes its own
instance."""
from .adapter import DouyinPlatform

__all__ = ["DouyinPlatform"]
