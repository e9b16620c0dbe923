"""Writes committed in groups: what arrives while one group commits goes in together as the next.

Many small writes, each a request of its own (a sensor's single Observation, a network server's
LoRaWAN uplink), cost a transaction each when made alone. A `GroupCommitter` queues them for one
committing thread, which takes what waits (at most `max_group`) and hands it to the caller's
`commit_group` as one group: one transaction, with statements over all its items. Each submitter
is answered only once its group has committed: nothing is acknowledged that is not stored, exactly
as when it is made alone.

Every item keeps its own answer. `commit_group` gives one outcome per item: its answer, the
exception that it alone raises (a refusal), or `ALONE` when the group cannot take it as it is; an
item `ALONE` is then made by `commit_one` in a transaction of its own, after the others are
answered. A group whose `commit_group` raises (its transaction failed: a conflict with another
process, a row the store refused) is made again item by item the same way, so each gets its own
answer or error and no item takes the others with it.

Our own rather than `concurrent.futures.ThreadPoolExecutor`: an executor runs each task alone,
while a group is made of whatever waited when the previous group finished, and that is the point.
The committer knows no HTTP and no SQL: the callers' functions do the writing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

ItemT = TypeVar("ItemT")
AnswerT = TypeVar("AnswerT")


class Alone:
    """The type of `ALONE` (there is one)."""

    def __repr__(self) -> str:
        return "ALONE"


#: The outcome of an item its group cannot take as it is: `commit_one` makes it alone.
ALONE: Final = Alone()

#: Most items in one group, unless the caller says otherwise (a multi-row insert of this many stays
#: far below every driver's limit of bound parameters).
MAX_GROUP = 500


@dataclass(eq=False)
class _Waiting(Generic[ItemT, AnswerT]):
    item: ItemT
    future: Future[AnswerT]


class GroupCommitter(Generic[ItemT, AnswerT]):
    """Commits the items submitted to it in groups, on one thread of its own.

    `commit_group(items)` writes a group in one transaction and returns, once it has committed, an
    outcome per item, in their order: the answer, an exception (raised to that item's waiter alone)
    or `ALONE`. `commit_one(item)` makes one item in a transaction of its own and returns its
    answer or raises its error. `name` names the committing thread (and the log lines).
    """

    def __init__(
        self,
        name: str,
        commit_group: Callable[[list[ItemT]], Sequence[AnswerT | BaseException | Alone]],
        commit_one: Callable[[ItemT], AnswerT],
        *,
        max_group: int = MAX_GROUP,
        log: logging.Logger | None = None,
    ) -> None:
        if max_group < 1:
            raise ValueError(f"a group holds at least one item, not {max_group}")
        self.name = name
        self.max_group = max_group
        self._commit_group = commit_group
        self._commit_one = commit_one
        self._log = log or logging.getLogger("urbantwin.store")
        self._queue: deque[_Waiting[ItemT, AnswerT]] = deque()
        self._wake = threading.Condition()
        #: The committing thread, started with the first item (and again after `close`).
        self._thread: threading.Thread | None = None

    @property
    def depth(self) -> int:
        """How many items wait for their group (the metrics' queue depth)."""
        return len(self._queue)

    def submit(self, item: ItemT) -> Future[AnswerT]:
        """Queue `item` for the next group; the future is done once its group has committed."""
        return self.submit_all([item])[0]

    def submit_all(
        self, items: Sequence[ItemT], futures: Sequence[Future[AnswerT]] | None = None
    ) -> list[Future[AnswerT]]:
        """Queue items that arrived together (they go into one group, up to `max_group`).

        `futures`, one per item, are those to answer in when the caller made them beforehand (to
        wait on them before they are queued); else new ones are made and returned.
        """
        if futures is None:
            futures = [Future() for _ in items]
        elif len(futures) != len(items):
            raise ValueError(f"{len(items)} items were given {len(futures)} futures")
        waiting = [_Waiting(item, future) for item, future in zip(items, futures, strict=True)]
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._queue.extend(waiting)
            self._wake.notify()
        return list(futures)

    def close(self) -> None:
        """Commit what is queued, then stop the committing thread (the app's shutdown).

        A later `submit` starts the thread again.
        """
        with self._wake:
            thread, self._thread = self._thread, None
            self._wake.notify_all()
        if thread is not None:
            thread.join(timeout=30)

    # --- the committing thread ------------------------------------------------------------------

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._wake:
                while not self._queue and self._thread is me:
                    self._wake.wait()
                if not self._queue:
                    return  # closed, and everything queued is committed
                taken = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_group))]
            # An item given up before its group started (its waiter cancelled) is not made; the
            # others can no longer be cancelled, so each gets its answer.
            group = [waiting for waiting in taken if waiting.future.set_running_or_notify_cancel()]
            if not group:
                continue
            try:
                self._commit(group)
            except BaseException as exc:  # noqa: BLE001 - no submitter may wait for ever
                self._log.exception("%s: a group of %d failed", self.name, len(group))
                for waiting in group:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)

    def _commit(self, group: list[_Waiting[ItemT, AnswerT]]) -> None:
        outcomes: list[AnswerT | BaseException | Alone]
        try:
            outcomes = list(self._commit_group([waiting.item for waiting in group]))
            if len(outcomes) != len(group):
                raise RuntimeError(f"a group of {len(group)} items was given {len(outcomes)} outcomes")
        except Exception:  # noqa: BLE001 - made again one by one, each with its own answer
            self._log.debug(
                "%s: a group of %d is made again one by one", self.name, len(group), exc_info=True
            )
            outcomes = [ALONE] * len(group)
        # Committed: now, and only now, the submitters are answered.
        alone = []
        for waiting, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Alone):
                alone.append(waiting)
            elif isinstance(outcome, BaseException):
                waiting.future.set_exception(outcome)
            else:
                waiting.future.set_result(outcome)
        for waiting in alone:
            try:
                answer = self._commit_one(waiting.item)
            except BaseException as exc:  # noqa: BLE001 - the item's own answer, raised where it waits
                waiting.future.set_exception(exc)
            else:
                waiting.future.set_result(answer)


__all__ = ["ALONE", "MAX_GROUP", "Alone", "GroupCommitter"]
