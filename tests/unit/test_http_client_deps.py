"""The notifier delivers webhooks with httpx's async client (the API asked the workers that way too,
on every lookup, until it moved to aiohttp: ``api/http.py``). httpcore finds out which async
library runs it by importing ``sniffio`` several times per request; when sniffio is missing (anyio
4.16 no longer depends on it) each of those imports fails after searching every ``sys.path`` entry
on disk (~45 µs each, measured), and a failed import is not cached. sniffio is a declared
dependency, so the import is a dictionary lookup in ``sys.modules``."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from bazaar_core import logs

pytestmark = pytest.mark.unit


class _Recorder:
    """A meta path finder that records every module the import system searches for."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def find_spec(self, name, path=None, target=None):
        self.searched.append(name)
        return None  # let the real finders do the work


def test_httpcore_finds_the_async_library_without_searching_the_disk():
    from httpcore._synchronization import current_async_library

    async def twice() -> list[str]:
        current_async_library()  # the first call may import sniffio for real
        recorder = _Recorder()
        sys.meta_path.insert(0, recorder)
        try:
            assert current_async_library() == "asyncio"
        finally:
            sys.meta_path.remove(recorder)
        return recorder.searched

    assert asyncio.run(twice()) == []  # without sniffio installed: ["sniffio"], every call


def test_http_client_request_lines_are_not_logged():
    """httpx logs every request at INFO: one line per webhook delivery (access logs are opt-in)."""
    saved = logging.getLogger().handlers[:], logging.getLogger().level
    try:
        logs.setup("INFO")
        # (levels, not isEnabledFor: another test may have called logging.disable)
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
    finally:
        root = logging.getLogger()
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)
