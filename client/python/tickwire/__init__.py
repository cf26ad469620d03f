"""tickwire: asyncio client for the tickwire market-data WebSocket gateway (protocol v1).

Quick start::

    import asyncio
    from tickwire import Client

    async def main() -> None:
        async with Client("ws://127.0.0.1:9001/v1") as client:
            async for tick in client.stream("trade.BTC-USD"):
                print(tick.seq, tick.px, tick.qty, tick.side)

    asyncio.run(main())

See README.md for events, reconnection and resume semantics.
"""

from ._book import Book, BookStream, book_checksum, book_topic
from ._candles import CandleList, CandleStream
from ._protocol import is_valid_subscription, is_valid_topic
from ._snapshot import Snapshots
from ._streams import EventStream, Stream
from .backoff import Backoff
from .client import Client
from .codec import FORMATS, SUBPROTOCOLS, Codec, DecodeError, get_codec
from .errors import (
    CLOSE_CODES,
    ERROR_CODES,
    ClosedError,
    ConnectError,
    ConnectionLostError,
    ConnectTimeoutError,
    TickwireError,
    TickwireException,
    should_reconnect,
)
from .models import (
    BookChange,
    Candle,
    Event,
    Gap,
    Level,
    Moved,
    Quote,
    Resync,
    ResyncReason,
    Snapshot,
    State,
    Stats,
    StatusChange,
    Tick,
    Trade,
)
from .sync import SyncClient, SyncStream

__version__ = "0.1.0"

__all__ = [
    "Client",
    "SyncClient",
    "SyncStream",
    "Backoff",
    "Stream",
    "EventStream",
    "Trade",
    "Quote",
    "Tick",
    "Book",
    "BookStream",
    "BookChange",
    "Level",
    "book_checksum",
    "book_topic",
    "Candle",
    "CandleList",
    "CandleStream",
    "Stats",
    "Snapshot",
    "Snapshots",
    "Resync",
    "ResyncReason",
    "Moved",
    "Gap",
    "StatusChange",
    "State",
    "Event",
    "TickwireException",
    "TickwireError",
    "ClosedError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "ERROR_CODES",
    "CLOSE_CODES",
    "should_reconnect",
    "is_valid_topic",
    "is_valid_subscription",
    "Codec",
    "DecodeError",
    "get_codec",
    "FORMATS",
    "SUBPROTOCOLS",
]
