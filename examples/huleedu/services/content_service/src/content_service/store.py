"""An in-memory content store."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

from common_core import ContentCreate, ContentItem

# A word is a run of letters/digits, optionally joined by an apostrophe or hyphen
# ("don't", "well-known" count once).
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


class ContentStore:
    def __init__(self) -> None:
        self._items: dict[str, ContentItem] = {}
        self._lock = asyncio.Lock()

    async def add(self, new: ContentCreate) -> ContentItem:
        item = ContentItem(
            id=uuid.uuid4().hex,
            title=new.title,
            text=new.text,
            word_count=count_words(new.text),
            created_at=datetime.now(UTC),
        )
        async with self._lock:
            self._items[item.id] = item
        return item

    async def get(self, content_id: str) -> ContentItem | None:
        return self._items.get(content_id)
