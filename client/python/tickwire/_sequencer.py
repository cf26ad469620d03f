"""Per-topic continuity tracking: pure logic, no I/O (unit-testable on its own).

For each topic the sequencer remembers the epoch and the seq of the last tick it let through,
and turns ``snap``/``upd`` messages into the ordered list of items to deliver: ticks, and the
events that explain every discontinuity (:class:`Resync`, :class:`Gap`). The invariant it keeps,
per topic: two ticks delivered one after the other in the same epoch have consecutive seqs,
unless a ``Resync`` or ``Gap`` was delivered between them (throttled topics excepted, whose seqs
jump by design). Duplicates (after a re-subscription that overlaps what was already delivered)
are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import Gap, Moved, Resync, ResyncReason, Snapshot, Tick, is_throttled, tick_from_wire

Item = Tick | Snapshot | Resync | Moved | Gap


@dataclass
class TopicState:
    throttled: bool
    epoch: str | None = None
    #: seq of the last tick delivered; None until the first snapshot.
    seq: int | None = None
    #: A gap was seen: upds are ignored until the snapshot of the re-subscription.
    recovering: bool = False
    #: Why (the reason of the Resync that the re-subscription's snapshot brings).
    recovery: ResyncReason = ResyncReason.GAP
    #: Upstream position (``src``, ``off``) of the last tick, when the gateway gave one: another
    #: gateway instance can resume from it.
    src: str | None = None
    off: int | None = None


class Sequencer:
    def __init__(self) -> None:
        self.topics: dict[str, TopicState] = {}

    def forget(self, topic: str) -> None:
        """The user unsubscribed: a later subscription starts afresh (a plain first snapshot)."""
        self.topics.pop(topic, None)

    def invalidate(self, topic: str, reason: ResyncReason) -> bool:
        """A consumer found the topic's state wrong (an order book's checksum): ignore its upds until
        the snapshot of a re-subscription, which comes with a ``Resync(reason)``. False when the topic
        has no position yet or is already being recovered (the caller need not re-subscribe)."""
        st = self.topics.get(topic)
        if st is None or st.seq is None or st.recovering:
            return False
        st.recovering = True
        st.recovery = reason
        return True

    def since(self, topics: Any) -> dict[str, dict[str, Any]]:
        """The ``since`` map of a resubscription: non-throttled topics with a known position that
        are not being recovered from a gap."""
        out: dict[str, dict[str, Any]] = {}
        for t in topics:
            st = self.topics.get(t)
            if st is not None and st.seq is not None and not st.throttled and not st.recovering:
                out[t] = {"epoch": st.epoch, "seq": st.seq}
                if st.src is not None and st.off is not None:
                    out[t].update(src=st.src, off=st.off)
        return out

    def on_snap(
        self, topic: str, epoch: str, seq: int, data: dict[str, Any], resync: bool, src: str | None = None, off: int | None = None
    ) -> list[Item]:
        tick = tick_from_wire(topic, seq, data)
        snapshot = Snapshot(topic, epoch, seq, tick, bool(resync))
        st = self.topics.get(topic)
        if st is None or st.seq is None:
            self.topics[topic] = TopicState(is_throttled(topic), epoch, seq, src=src, off=off)
            return [snapshot, tick]
        if not st.recovering and not resync and epoch != st.epoch and src is not None and src == st.src and off == st.off:
            # Another instance renumbered the very tick delivered last (same upstream position):
            # nothing skipped, nothing to repeat; the numbering continues from ``seq``.
            moved = Moved(topic, epoch, seq, st.epoch or "", st.seq)
            st.epoch, st.seq = epoch, seq
            return [moved]
        reason: ResyncReason | None = None
        if st.recovering:
            reason = st.recovery
        elif st.epoch != epoch:
            reason = ResyncReason.EPOCH
        elif resync:
            reason = ResyncReason.SERVER
        elif not st.throttled and seq > st.seq + 1:
            reason = ResyncReason.SKIPPED
        if reason is not None or seq >= st.seq:
            st.src, st.off = src, off  # the position of what is now the last tick
        items: list[Item] = []
        if reason is not None:
            items.append(Resync(topic, epoch, seq, reason, st.epoch, st.seq))
        items.append(snapshot)
        if reason is not None or seq > st.seq:
            items.append(tick)
            st.seq = seq
        # else: a tick already delivered (a re-subscription in the same epoch): not repeated.
        st.epoch = epoch
        st.recovering = False
        return items

    def on_upd(self, topic: str, seq: int, data: list[dict[str, Any]], off: int | None = None) -> list[Item]:
        st = self.topics.get(topic)
        if st is None or st.seq is None or st.recovering or not data:
            return []
        last = st.seq
        end = seq + len(data) - 1
        if end <= last:
            return []  # all duplicates
        # The offset is that of the frame's last tick, which becomes the last one delivered.
        st.off = off
        if off is None:
            st.src = None
        if seq > last + 1 and not st.throttled:
            st.recovering = True
            st.recovery = ResyncReason.GAP
            return [Gap(topic, last + 1, seq)]
        start = last + 1 - seq if seq <= last else 0
        st.seq = end
        return [tick_from_wire(topic, seq + i, data[i]) for i in range(start, len(data))]
