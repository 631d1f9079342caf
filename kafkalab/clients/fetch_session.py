"""The consumer's side of incremental fetch sessions (KIP-227; Kafka's ``FetchSessionHandler``).

How it works. The fetcher keeps one :class:`FetchSessionHandler` per broker it fetches from. :meth:`build` turns
the partitions it wants from that broker now (each a :class:`~kafkalab.protocol.fetch.FetchPartition`) into what
the request carries: with no session, all of them with ``session_epoch = 0`` (a full request, which asks the broker
for a session); in a session, only those added or changed since the last request (a partition's ``FetchPartition``
is reused while its offset and leader epoch stay put, so "changed" is an identity test) and the ones dropped as
``forgotten``, with the session's id and next epoch. :meth:`handle_response` follows the answer: a full answer with
a session id opens the session (next epoch 1), one without (the broker had no free slot) keeps requests full; each
incremental answer moves the epoch on. FETCH_SESSION_ID_NOT_FOUND (the broker restarted or evicted the session)
starts over with a full request; INVALID_FETCH_SESSION_EPOCH and a failed request start over with a full request
that also closes the old session (Kafka's ``nextCloseExistingAttemptNew``). :meth:`resend` marks a partition whose
answer the consumer dropped or used (records, an error) so the next request names it again: the broker reads a
partition only when it is named or has news.

Kafka's builder compares the whole session on every request; here the comparison walks the partitions the fetcher
already walks to decide what is fetchable, and the session is walked only when some partition left it.
"""
from __future__ import annotations

from kafkalab.common.topic_partition import TopicPartition
from kafkalab.protocol.common import NONE
from kafkalab.protocol.fetch import INITIAL_EPOCH, INVALID_SESSION_ID, FetchPartition, FetchResponse

__all__ = ["FetchSessionHandler", "SESSION_ERRORS"]

#: answers that end a session: the handler starts over with a full request
SESSION_ERRORS = ("FETCH_SESSION_ID_NOT_FOUND", "INVALID_FETCH_SESSION_EPOCH")

_RESEND = FetchPartition(-1)        # a session entry to name again on the next request whatever it holds


class FetchSessionHandler:
    """One consumer's fetch session with one broker (Kafka's ``FetchSessionHandler``)."""

    __slots__ = ("session_id", "epoch", "partitions", "full_requests", "incremental_requests")

    def __init__(self) -> None:
        self.session_id = INVALID_SESSION_ID
        self.epoch = INITIAL_EPOCH          # the epoch of the next request: 0 = full
        #: what the broker's session holds for each partition (what the last requests named)
        self.partitions: dict[TopicPartition, FetchPartition] = {}
        self.full_requests = 0
        self.incremental_requests = 0

    @property
    def is_full(self) -> bool:
        """Whether the next request is full (no session yet, or starting over)."""
        return self.epoch == INITIAL_EPOCH

    def build(self, wanted: dict[TopicPartition, FetchPartition]
              ) -> tuple[dict[TopicPartition, FetchPartition], tuple[TopicPartition, ...]]:
        """The request's partitions and forgotten list for ``wanted`` (every partition to fetch from the broker
        now); the session becomes ``wanted``."""
        if self.epoch == INITIAL_EPOCH:
            self.partitions = dict(wanted)
            self.full_requests += 1
            return wanted, ()
        self.incremental_requests += 1
        session = self.partitions
        changed: dict[TopicPartition, FetchPartition] = {}
        for tp, fp in wanted.items():
            if session.get(tp) is not fp:
                changed[tp] = fp
                session[tp] = fp
        forgotten: tuple[TopicPartition, ...] = ()
        if len(session) > len(wanted):
            forgotten = tuple(tp for tp in session if tp not in wanted)
            for tp in forgotten:
                del session[tp]
        return changed, forgotten

    def resend(self, tp: TopicPartition) -> None:
        """Name ``tp`` again on the next request (if it stays in the session)."""
        if tp in self.partitions:
            self.partitions[tp] = _RESEND

    def handle_response(self, response: FetchResponse, full: bool) -> bool:
        """Follow an answer to a request built as ``full`` or not; False when it is a session error (its
        partitions carry nothing)."""
        if response.error != NONE:
            if response.error == "FETCH_SESSION_ID_NOT_FOUND":
                self.session_id = INVALID_SESSION_ID
            self.epoch = INITIAL_EPOCH
            return False
        if full:
            self.session_id = response.session_id
            self.epoch = INITIAL_EPOCH if response.session_id == INVALID_SESSION_ID else 1
        elif response.session_id == INVALID_SESSION_ID:
            self.epoch = INITIAL_EPOCH           # the broker closed the session
        else:
            self.epoch += 1
        return True

    def handle_error(self) -> None:
        """The request failed (timeout, disconnect): start over with a full request closing the old session."""
        self.epoch = INITIAL_EPOCH
