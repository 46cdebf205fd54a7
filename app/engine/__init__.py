"""The HisCRM engine: storage, IM views, events, worker pool and reply outbox.

Plain asyncio and SQLAlchemy; it never imports Qt, so the same engine runs under the
desktop console (qasync loop), `hiscrm serve` and the tests.
"""
