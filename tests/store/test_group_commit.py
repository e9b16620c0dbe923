"""The group committer (`store/group_commit.py`): what arrives while a group commits is the next
group, each submitter is answered after its group has committed, a failing group is made again item
by item, and closing commits what waits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from urbantwin.store.group_commit import ALONE, Alone, GroupCommitter

WAIT = 30


class Ledger:
    """A store of numbers written in groups: `commit_group` doubles each, `commit_one` too, and a
    group holding 13 fails as a whole (13 alone is refused)."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.alone: list[int] = []
        self.committed: list[int] = []
        #: Held by the test to keep a group committing while more items arrive.
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def commit_group(self, items: list[int]) -> list[int | BaseException | Alone]:
        self.started.set()
        assert self.gate.wait(WAIT)
        self.groups.append(list(items))
        if 13 in items:
            raise RuntimeError("the transaction failed")
        outcomes: list[int | BaseException | Alone] = []
        for item in items:
            if item < 0:
                outcomes.append(ValueError(f"{item} is negative"))
            elif item == 0:
                outcomes.append(ALONE)
            else:
                outcomes.append(2 * item)
        self.committed.extend(item for item in items if item > 0)
        return outcomes

    def commit_one(self, item: int) -> int:
        self.alone.append(item)
        if item == 13:
            raise ValueError("13 is refused")
        self.committed.append(item)
        return 2 * item


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def committer(ledger: Ledger) -> Iterator[GroupCommitter[int, int]]:
    committer = GroupCommitter("test-group-commit", ledger.commit_group, ledger.commit_one, max_group=4)
    yield committer
    ledger.gate.set()
    committer.close()


def answers(futures: list[Future[int]]) -> list[int]:
    return [future.result(timeout=WAIT) for future in futures]


def test_items_submitted_together_are_one_group(ledger: Ledger, committer: GroupCommitter[int, int]) -> None:
    assert answers(committer.submit_all([1, 2, 3])) == [2, 4, 6]
    assert ledger.groups == [[1, 2, 3]]


def test_items_that_arrive_while_a_group_commits_form_the_next_group(
    ledger: Ledger, committer: GroupCommitter[int, int]
) -> None:
    ledger.gate.clear()
    first = committer.submit(1)
    assert ledger.started.wait(WAIT)  # the group of 1 is committing
    later = [committer.submit(item) for item in (2, 3, 4)]
    assert committer.depth == 3
    assert not first.done()
    ledger.gate.set()
    assert answers([first, *later]) == [2, 4, 6, 8]
    assert ledger.groups == [[1], [2, 3, 4]]
    assert committer.depth == 0


def test_a_group_is_at_most_max_group_items(ledger: Ledger, committer: GroupCommitter[int, int]) -> None:
    assert answers(committer.submit_all(list(range(1, 11)))) == list(range(2, 21, 2))
    assert ledger.groups == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_each_submitter_is_answered_only_after_its_group_has_committed(
    ledger: Ledger, committer: GroupCommitter[int, int]
) -> None:
    seen: list[list[int]] = []
    futures: list[Future[int]] = [Future() for _ in range(3)]
    for future in futures:
        future.add_done_callback(lambda _: seen.append(list(ledger.committed)))
    committer.submit_all([1, 2, 3], futures)  # futures made beforehand are the ones answered
    assert answers(futures) == [2, 4, 6]
    assert seen == [[1, 2, 3]] * 3


def test_a_refused_item_takes_no_other_with_it(ledger: Ledger, committer: GroupCommitter[int, int]) -> None:
    futures = committer.submit_all([1, -2, 3])
    assert futures[0].result(timeout=WAIT) == 2
    with pytest.raises(ValueError, match="-2 is negative"):
        futures[1].result(timeout=WAIT)
    assert futures[2].result(timeout=WAIT) == 6
    assert ledger.alone == []


def test_an_item_the_group_cannot_take_is_made_alone_after_the_others_are_answered(
    ledger: Ledger, committer: GroupCommitter[int, int]
) -> None:
    futures = committer.submit_all([1, 0, 3])
    assert answers(futures) == [2, 0, 6]
    assert ledger.groups == [[1, 0, 3]]
    assert ledger.alone == [0]
    assert ledger.committed == [1, 3, 0]


def test_a_failed_group_is_made_again_item_by_item_each_with_its_own_answer(
    ledger: Ledger, committer: GroupCommitter[int, int]
) -> None:
    futures = committer.submit_all([1, 13, 3])
    assert futures[0].result(timeout=WAIT) == 2
    with pytest.raises(ValueError, match="13 is refused"):
        futures[1].result(timeout=WAIT)
    assert futures[2].result(timeout=WAIT) == 6
    assert ledger.alone == [1, 13, 3]
    assert ledger.committed == [1, 3]
    # and the next group goes in as a group again
    assert answers(committer.submit_all([4, 5])) == [8, 10]
    assert ledger.groups[-1] == [4, 5]


def test_a_group_giving_the_wrong_number_of_outcomes_is_made_item_by_item() -> None:
    made: list[int] = []
    committer: GroupCommitter[int, int] = GroupCommitter(
        "test-group-commit", lambda items: [], lambda item: made.append(item) or item
    )
    try:
        assert answers(committer.submit_all([1, 2])) == [1, 2]
        assert made == [1, 2]
    finally:
        committer.close()


def test_no_submitter_waits_for_ever_when_the_committing_code_gives_up() -> None:
    def stop(items: list[int]) -> list[int]:
        raise SystemExit("stopped")

    committer: GroupCommitter[int, int] = GroupCommitter("test-group-commit", stop, lambda item: item)
    try:
        futures = committer.submit_all([1, 2])
        for future in futures:
            with pytest.raises(SystemExit):
                future.result(timeout=WAIT)
    finally:
        committer.close()


def test_a_cancelled_item_is_not_made(ledger: Ledger, committer: GroupCommitter[int, int]) -> None:
    ledger.gate.clear()
    committer.submit(1)
    assert ledger.started.wait(WAIT)
    given_up, kept = committer.submit_all([2, 3])
    assert given_up.cancel()
    ledger.gate.set()
    assert kept.result(timeout=WAIT) == 6
    assert ledger.groups == [[1], [3]]


def test_close_commits_what_waits_and_a_later_submit_starts_again(
    ledger: Ledger, committer: GroupCommitter[int, int]
) -> None:
    ledger.gate.clear()
    first = committer.submit(1)
    assert ledger.started.wait(WAIT)
    waiting = committer.submit_all(list(range(2, 8)))
    closing = threading.Thread(target=committer.close)
    closing.start()
    ledger.gate.set()
    closing.join(WAIT)
    assert not closing.is_alive()
    # Everything queued before the close was committed before it returned.
    assert all(future.done() for future in [first, *waiting])
    assert answers([first, *waiting]) == [2 * n for n in range(1, 8)]
    assert ledger.groups == [[1], [2, 3, 4, 5], [6, 7]]
    assert committer.submit(8).result(timeout=WAIT) == 16


def test_a_group_holds_at_least_one_item(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="at least one item, not 0"):
        GroupCommitter("test-group-commit", ledger.commit_group, ledger.commit_one, max_group=0)
