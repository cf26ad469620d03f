"""Per-topic continuity rules, without any network."""

from __future__ import annotations

from tickwire import Gap, Moved, Resync, ResyncReason, Snapshot, Trade
from tickwire._sequencer import Sequencer


def tick(i: int) -> dict:
    return {"ts": float(i), "px": float(i), "qty": 1.0, "side": "b"}


def ticks(seq: int, n: int) -> list[dict]:
    return [tick(seq + i) for i in range(n)]


def seqs(items: list) -> list:
    return [(type(x).__name__, x.seq) if not isinstance(x, Gap) else ("Gap", x.expected, x.got) for x in items]


T = "trade.X"


def test_first_snapshot_then_consecutive_updates() -> None:
    s = Sequencer()
    items = s.on_snap(T, "E", 5, tick(5), False)
    assert isinstance(items[0], Snapshot) and items[0].tick == items[1]
    assert items[1] == Trade(T, 5, 5.0, 5.0, 1.0, "b")
    assert seqs(s.on_upd(T, 6, ticks(6, 3))) == [("Trade", 6), ("Trade", 7), ("Trade", 8)]
    assert s.since([T]) == {T: {"epoch": "E", "seq": 8}}


def test_duplicates_and_overlaps_are_dropped() -> None:
    s = Sequencer()
    s.on_snap(T, "E", 5, tick(5), False)
    s.on_upd(T, 6, ticks(6, 3))  # up to 8
    assert s.on_upd(T, 4, ticks(4, 5)) == []  # 4..8 all seen
    assert seqs(s.on_upd(T, 7, ticks(7, 4))) == [("Trade", 9), ("Trade", 10)]
    # A plain snapshot at or before the position (a re-subscription in the same epoch): no repeat.
    items = s.on_snap(T, "E", 10, tick(10), False)
    assert seqs(items) == [("Snapshot", 10)]
    items = s.on_snap(T, "E", 11, tick(11), False)  # the next tick: continuous, no Resync
    assert seqs(items) == [("Snapshot", 11), ("Trade", 11)]


def test_gap_starts_recovery_and_the_next_snapshot_resyncs() -> None:
    s = Sequencer()
    s.on_snap(T, "E", 1, tick(1), False)
    s.on_upd(T, 2, ticks(2, 2))
    items = s.on_upd(T, 7, ticks(7, 2))
    assert items == [Gap(T, 4, 7, "seq")]
    assert s.on_upd(T, 9, ticks(9, 1)) == []  # ignored while recovering
    assert s.since([T]) == {}  # not resumed while recovering
    items = s.on_snap(T, "E", 12, tick(12), False)
    assert isinstance(items[0], Resync)
    assert (items[0].reason, items[0].seq, items[0].last_seq) == (ResyncReason.GAP, 12, 3)
    assert seqs(items[1:]) == [("Snapshot", 12), ("Trade", 12)]
    assert seqs(s.on_upd(T, 13, ticks(13, 1))) == [("Trade", 13)]


def test_resync_reasons() -> None:
    def after(epoch: str, seq: int, resync: bool) -> list:
        s = Sequencer()
        s.on_snap(T, "E", 5, tick(5), False)
        return s.on_snap(T, epoch, seq, tick(seq), resync)

    assert after("E2", 1, False)[0].reason is ResyncReason.EPOCH
    assert after("E2", 1, True)[0].reason is ResyncReason.EPOCH  # the epoch says more
    assert after("E", 9, True)[0].reason is ResyncReason.SERVER
    assert after("E", 3, True)[0].reason is ResyncReason.SERVER  # a reset, even backwards
    assert seqs(after("E", 3, True))[-1] == ("Trade", 3)
    assert after("E", 9, False)[0].reason is ResyncReason.SKIPPED
    assert not any(isinstance(x, Resync) for x in after("E", 6, False))


def test_throttled_topics_skip_by_design() -> None:
    s = Sequencer()
    q = "trade.X@100ms"
    s.on_snap(q, "E", 5, tick(5), False)
    assert seqs(s.on_upd(q, 42, ticks(42, 1))) == [("Trade", 42)]
    assert s.on_upd(q, 40, ticks(40, 1)) == []  # older: dropped
    items = s.on_snap(q, "E", 90, tick(90), False)
    assert seqs(items) == [("Snapshot", 90), ("Trade", 90)]  # no Resync for a throttled jump
    assert s.since([q]) == {}  # throttled topics are never resumed


def test_forget_and_unknown_topics() -> None:
    s = Sequencer()
    assert s.on_upd(T, 1, ticks(1, 1)) == []  # upd before any snapshot
    s.on_snap(T, "E", 5, tick(5), False)
    s.forget(T)
    assert s.on_upd(T, 6, ticks(6, 1)) == []
    items = s.on_snap(T, "E", 50, tick(50), False)
    assert not any(isinstance(x, Resync) for x in items)  # a fresh subscription


def test_resume_on_another_instance_is_a_moved_event_without_repeat_or_gap() -> None:
    s = Sequencer()
    s.on_snap(T, "EA", 10, tick(10), False, "k/ticks/0", 100)
    s.on_upd(T, 11, ticks(11, 2), 130)
    assert s.since([T]) == {T: {"epoch": "EA", "seq": 12, "src": "k/ticks/0", "off": 130}}
    # Instance B renumbers the client's last tick (same upstream position) as seq 3 of EB.
    items = s.on_snap(T, "EB", 3, tick(12), False, "k/ticks/0", 130)
    assert items == [Moved(T, "EB", 3, "EA", 12)]
    assert seqs(s.on_upd(T, 4, ticks(13, 2), 150)) == [("Trade", 4), ("Trade", 5)]
    assert s.since([T]) == {T: {"epoch": "EB", "seq": 5, "src": "k/ticks/0", "off": 150}}
    # A frame without a position drops it: the next since has none.
    s.on_upd(T, 6, ticks(15, 1))
    assert s.since([T]) == {T: {"epoch": "EB", "seq": 6}}


def test_a_new_epoch_at_another_position_or_flagged_is_still_a_resync() -> None:
    for src, off, resync in [("k/ticks/0", 131, False), ("k2/ticks/0", 130, False), ("k/ticks/0", 130, True)]:
        s = Sequencer()
        s.on_snap(T, "EA", 12, tick(12), False, "k/ticks/0", 130)
        items = s.on_snap(T, "EB", 3, tick(13), resync, src, off)
        assert isinstance(items[0], Resync), (src, off, resync)


def test_invalidate_ignores_updates_until_a_snapshot_with_the_reason() -> None:
    s = Sequencer()
    assert not s.invalidate(T, ResyncReason.CHECKSUM)  # no position yet: nothing to recover
    s.on_snap(T, "E", 5, tick(5), False)
    assert s.invalidate(T, ResyncReason.CHECKSUM)
    assert not s.invalidate(T, ResyncReason.CHECKSUM)  # already recovering: one re-subscription
    assert s.on_upd(T, 6, ticks(6, 2)) == []
    assert s.since([T]) == {}  # a reconnect subscribes without since: a fresh snapshot
    items = s.on_snap(T, "E", 9, tick(9), False)
    assert isinstance(items[0], Resync) and (items[0].reason, items[0].seq, items[0].last_seq) == (ResyncReason.CHECKSUM, 9, 5)
    assert seqs(items[1:]) == [("Snapshot", 9), ("Trade", 9)]
    # A later seq gap is reported as a gap again, not with the previous reason.
    assert seqs(s.on_upd(T, 12, ticks(12, 1))) == [("Gap", 10, 12)]
    assert s.on_snap(T, "E", 12, tick(12), False)[0].reason is ResyncReason.GAP  # type: ignore[union-attr]
