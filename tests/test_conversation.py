"""ConversationMemory: expiry on a fake clock, per-key turn cap, LRU bound on keys."""

from __future__ import annotations

import pytest

from bot.conversation import ConversationMemory, Turn


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_remember_and_recall_oldest_first(clock: FakeClock) -> None:
    mem = ConversationMemory(clock=clock)
    key = (10, 1)
    mem.remember(key, "who plays jessica?", ["p1", "p2", "p3"], shown=1)
    clock.now += 5
    mem.remember(key, "and what about luke?", ["p4"], shown=1)
    turns = mem.recent(key)
    assert [t.question for t in turns] == ["who plays jessica?", "and what about luke?"]
    last = mem.last(key)
    assert last is not None and last.question == "and what about luke?" and last.at == 1005.0
    assert turns[0].passage_ids == ("p1", "p2", "p3")
    assert turns[0].unshown == ("p2", "p3")


def test_keys_are_separate_per_channel_and_user(clock: FakeClock) -> None:
    mem = ConversationMemory(clock=clock)
    mem.remember((10, 1), "q", ["a"], shown=1)
    assert mem.recent((10, 2)) == []
    assert mem.recent((11, 1)) == []
    assert mem.last((11, 1)) is None


def test_expiry_with_fake_clock(clock: FakeClock) -> None:
    mem = ConversationMemory(ttl=600, clock=clock)
    key = (10, 1)
    mem.remember(key, "old", ["a"], shown=1)
    clock.now += 300
    mem.remember(key, "newer", ["b"], shown=1)
    clock.now += 299
    assert [t.question for t in mem.recent(key)] == ["old", "newer"]
    clock.now += 1  # "old" is now exactly ttl old
    assert [t.question for t in mem.recent(key)] == ["newer"]
    clock.now += 300
    assert mem.recent(key) == []
    assert mem.last(key) is None
    assert len(mem) == 0  # a key with nothing live is dropped


def test_idle_keys_are_swept_on_remember(clock: FakeClock) -> None:
    mem = ConversationMemory(ttl=60, clock=clock)
    for user in range(100):
        mem.remember((1, user), "q", [], shown=0)
    clock.now += 61
    mem.remember((2, 0), "fresh", [], shown=0)
    assert len(mem) == 1


def test_max_turns_per_key(clock: FakeClock) -> None:
    mem = ConversationMemory(max_turns=3, clock=clock)
    key = (10, 1)
    for i in range(7):
        clock.now += 1
        mem.remember(key, f"q{i}", [], shown=0)
    assert [t.question for t in mem.recent(key)] == ["q4", "q5", "q6"]


def test_lru_bound_on_keys(clock: FakeClock) -> None:
    mem = ConversationMemory(max_keys=3, clock=clock)
    for user in (1, 2, 3):
        mem.remember((10, user), f"q{user}", [], shown=0)
    assert mem.last((10, 1)) is not None  # touching user 1 makes user 2 the least recently used
    mem.remember((10, 4), "q4", [], shown=0)
    assert len(mem) == 3
    assert mem.last((10, 2)) is None
    assert {t.question for k in [(10, 1), (10, 3), (10, 4)] for t in mem.recent(k)} == {"q1", "q3", "q4"}


def test_many_keys_stay_bounded(clock: FakeClock) -> None:
    mem = ConversationMemory(max_keys=50, clock=clock)
    for user in range(5000):
        mem.remember((1, user), "q", ["a"], shown=1)
    assert len(mem) == 50
    assert mem.last((1, 4999)) is not None and mem.last((1, 0)) is None


def test_mark_shown_for_more(clock: FakeClock) -> None:
    mem = ConversationMemory(ttl=600, clock=clock)
    key = (10, 1)
    mem.remember(key, "quotes about kilgrave", ["a", "b", "c", "d", "e"], shown=2)
    clock.now += 500
    turn = mem.mark_shown(key, 4)
    assert isinstance(turn, Turn)
    assert turn.shown == 4 and turn.unshown == ("e",) and turn.at == clock.now
    clock.now += 500  # still alive: "more" refreshed the turn
    last = mem.last(key)
    assert last is not None and last.shown == 4
    assert mem.mark_shown(key, 99) == mem.last(key)
    assert mem.last(key).shown == 5  # type: ignore[union-attr]
    assert mem.mark_shown((99, 99), 1) is None


def test_shown_is_clamped_and_validated(clock: FakeClock) -> None:
    mem = ConversationMemory(clock=clock)
    assert mem.remember((1, 1), "q", ["a", "b"], shown=3).shown == 2
    with pytest.raises(ValueError):
        mem.remember((1, 1), "q", ["a"], shown=-1)
    with pytest.raises(ValueError):
        mem.remember((1, 1), "q", "abc", shown=0)


def test_input_list_is_copied(clock: FakeClock) -> None:
    mem = ConversationMemory(clock=clock)
    ids = ["a", "b"]
    mem.remember((1, 1), "q", ids, shown=1)
    ids.append("c")
    assert mem.last((1, 1)).passage_ids == ("a", "b")  # type: ignore[union-attr]


def test_forget_and_clear(clock: FakeClock) -> None:
    mem = ConversationMemory(clock=clock)
    mem.remember((1, 1), "q", [], shown=0)
    mem.remember((1, 2), "q", [], shown=0)
    mem.forget((1, 1))
    assert mem.last((1, 1)) is None and len(mem) == 1
    mem.clear()
    assert len(mem) == 0


@pytest.mark.parametrize("kwargs", [{"ttl": 0}, {"max_turns": 0}, {"max_keys": 0}])
def test_bad_limits_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ConversationMemory(**kwargs)  # type: ignore[arg-type]


def test_default_clock_is_monotonic() -> None:
    mem = ConversationMemory()
    turn = mem.remember((1, 1), "q", [], shown=0)
    assert mem.last((1, 1)) == turn
