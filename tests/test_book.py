"""The managed pool's bookkeeping, offline: a fake clock, a seeded random source, stand-in
sessions, no emulator (in the manner of psycopg_pool's test_sched.py)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from spanner_pools import PoolClosed, PoolExhausted, PoolUnavailable, SessionReturnedTwice
from spanner_pools.book import Pooled, SessionBook

INTERVAL = 300.0
AGE = 1000.0


class FakeSession:
    """Stands in for a ``Session``: an ID, hashed by identity like the real one."""

    def __init__(self, session_id: str | None) -> None:
        self.session_id = session_id

    def __repr__(self) -> str:
        return f"<FakeSession {self.session_id}>"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def no_session() -> Exception:
    return PoolUnavailable("no session")


def make_book(size: int = 3, seed: int = 7) -> tuple[SessionBook[FakeSession], Clock]:
    clock = Clock()
    book: SessionBook[FakeSession] = SessionBook(
        size, ping_interval=INTERVAL, max_session_age=AGE, clock=clock, rng=random.Random(seed)
    )
    return book, clock


def fill(book: SessionBook[FakeSession], count: int, first: int = 0) -> list[FakeSession]:
    reserved = book.reserve(count)
    sessions = [FakeSession(str(first + n)) for n in range(reserved)]
    made, dropped = book.created([(s, f"t{s.session_id}") for s in sessions], reserved=reserved)
    assert dropped == 0
    book.push(made)
    return sessions


# -- the schedule ----------------------------------------------------------------------------


def test_fresh_sessions_spread_their_first_ping_over_half_the_interval() -> None:
    book, clock = make_book()
    times = [book.next_ping(clock.now, fresh=True) - clock.now for _ in range(500)]
    assert min(times) >= INTERVAL * 0.5 and max(times) <= INTERVAL
    assert max(times) - min(times) > INTERVAL * 0.4  # really spread, not one value


def test_returned_sessions_are_pinged_after_80_to_100_percent_of_the_interval() -> None:
    book, clock = make_book()
    times = [book.next_ping(clock.now) - clock.now for _ in range(500)]
    assert min(times) >= INTERVAL * 0.8 and max(times) <= INTERVAL


def test_rotation_is_spread_over_the_last_tenth_of_the_age() -> None:
    book, clock = make_book()
    times = [book.rotate_at(clock.now) - clock.now for _ in range(500)]
    assert min(times) >= AGE * 0.9 and max(times) <= AGE


def test_only_due_sessions_are_taken_for_a_ping_and_the_clock_decides() -> None:
    book, clock = make_book(size=3)
    fill(book, 3)
    assert book.due(clock.now) == []
    due_in = book.seconds_until_due()
    assert due_in is not None and INTERVAL * 0.5 <= due_in <= INTERVAL
    clock.now += INTERVAL  # every fresh session is due within one interval
    due = book.due(clock.now)
    assert len(due) == 3
    assert book.seconds_until_due() is None  # nothing idle: all taken for the pass
    book.put_back(due, clock.now + 10)
    assert book.seconds_until_due() == pytest.approx(10)


def test_old_sessions_are_taken_for_rotation() -> None:
    book, clock = make_book(size=2)
    fill(book, 2)
    clock.now += AGE
    old = book.old(clock.now)
    assert len(old) == 2 and book.gauges()["available"] == 0


# -- lending ---------------------------------------------------------------------------------


def test_the_least_recently_returned_session_is_lent_first() -> None:
    book, clock = make_book(size=2)
    fill(book, 2)
    first = book.take(0, no_session)
    second = book.take(0, no_session)
    book.give_back(first.session)
    clock.now += 1
    book.give_back(second.session)
    assert book.take(0, no_session).session is first.session


def test_a_timeout_is_pool_exhausted_and_names_size_and_timeout() -> None:
    book, _ = make_book(size=1)
    fill(book, 1)
    book.take(0, no_session)
    with pytest.raises(PoolExhausted, match=r"POOL_TIMEOUT=0.05s \(POOL_SIZE=1"):
        book.take(0.05, no_session)


def test_no_session_owned_or_coming_fails_at_once() -> None:
    book, _ = make_book(size=1)
    with pytest.raises(PoolUnavailable):
        book.take(60, no_session)  # nothing owned, nothing being created: no wait


def test_waiters_get_returned_sessions_in_arrival_order() -> None:
    book, _ = make_book(size=1)
    [session] = fill(book, 1)
    book.take(0, no_session)
    served: list[str] = []

    def wait(name: str) -> None:
        item = book.take(60, no_session)
        served.append(name)
        book.give_back(item.session)

    threads = []
    for count, name in enumerate("abc", start=1):
        thread = threading.Thread(target=wait, args=(name,))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 30
        while book.gauges()["waiting"] < count:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    book.give_back(session)
    for thread in threads:
        thread.join(30)
    assert served == ["a", "b", "c"]
    assert book.gauges()["available"] == 1


def test_close_wakes_waiters_with_pool_closed() -> None:
    book, _ = make_book(size=1)
    fill(book, 1)
    book.take(0, no_session)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            book.take(60, no_session)
        except PoolClosed as exc:
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    deadline = time.monotonic() + 30
    while book.gauges()["waiting"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    book.close()
    thread.join(30)
    assert len(errors) == 1


# -- giving back -----------------------------------------------------------------------------


def test_a_session_given_back_twice_is_refused() -> None:
    book, _ = make_book(size=1)
    fill(book, 1)
    item = book.take(0, no_session)
    assert book.give_back(item.session) == "pooled"
    with pytest.raises(SessionReturnedTwice):
        book.give_back(item.session)


def test_a_foreign_session_is_adopted_into_a_free_slot_else_deleted() -> None:
    book, _ = make_book(size=1)
    [mine] = fill(book, 1)
    assert book.give_back(FakeSession("x")) == "delete"  # full
    book.take(0, no_session)
    assert book.forget(mine)  # the client found it gone
    assert book.give_back(FakeSession("y")) == "adopted"
    assert book.gauges()["sessions"] == 1
    assert book.give_back(FakeSession(None)) == "ignored"  # never created


def test_after_close_what_comes_back_is_doomed() -> None:
    book, _ = make_book(size=2)
    fill(book, 2)
    lent = book.take(0, no_session)
    doomed = book.doomed(idle=True)  # close: the idle one
    assert len(doomed) == 1 and book.closed
    assert book.give_back(lent.session) == "pooled"
    assert book.doomed(idle=False) == [lent.session]  # to the graveyard, deleted by the caller
    with pytest.raises(PoolClosed):
        book.take(0, no_session)


# -- slots -----------------------------------------------------------------------------------


def test_a_slot_being_replaced_is_not_filled_twice() -> None:
    """The pool-growth bug: a replacement and the refill both filled one gap."""
    book, _ = make_book(size=2)
    fill(book, 2)
    lent = book.take(0, no_session)
    assert book.disown_and_reserve(lent.session) == 1  # the replacement's slot
    assert book.reserve(2) == 0  # the refill finds no free slot
    made, _ = book.created([(FakeSession("new"), "t")], reserved=1)
    book.lend(made[0])
    assert book.gauges()["sessions"] == 2 and book.free_slots == 0


def test_a_failed_creation_frees_its_slots_and_wakes_waiters_when_nothing_can_come() -> None:
    book, _ = make_book(size=2)
    reserved = book.reserve(5)
    assert reserved == 2 and book.free_slots == 0
    assert book.release(reserved) is True  # nothing owned, nothing coming
    assert book.free_slots == 2


def test_an_id_the_server_hands_out_again_drops_the_old_session() -> None:
    """An emulator restarted on the same port reuses session IDs."""
    book, _ = make_book(size=2)
    old_idle, old_lent = fill(book, 2)
    lent = book.take(0, no_session).session
    idle = old_lent if lent is old_idle else old_idle
    reserved = book.reserve(1)
    assert reserved == 0  # full
    again = [(FakeSession(idle.session_id), "t2"), (FakeSession(lent.session_id), "t3")]
    _, dropped = book.created(again, reserved=0)
    assert dropped == 2
    assert book.give_back(lent) == "stale"  # its ID belongs to a new session now
    assert book.gauges()["sessions"] == 2


def test_after_an_outage_every_session_is_verified_before_use() -> None:
    book, clock = make_book(size=2)
    sessions = fill(book, 2)
    book.verify_all()
    assert all(book.is_unverified(s) for s in sessions)
    assert len(book.due(clock.now)) == 2  # due now, for the pinger's GetSession
    book.verified(sessions[0])
    assert not book.is_unverified(sessions[0]) and book.is_unverified(sessions[1])


def test_lending_a_replacement_after_close_dooms_it() -> None:
    book, _ = make_book(size=1)
    book.close()
    replacement: Pooled[FakeSession] = Pooled(FakeSession("r"), 0.0)
    with pytest.raises(PoolClosed):
        book.lend(replacement)
    assert book.doomed(idle=False) == [replacement.session]
