"""StripedReplicaPlacer: spread over brokers and racks, leaders unfenced, Kafka's errors."""
import doctest
import random
from collections import Counter

import pytest

from kafkalab.controller import placement
from kafkalab.controller.placement import StripedReplicaPlacer, UsableBroker, place_replicas
from kafkalab.errors import InvalidReplicationFactorError


def test_doctest() -> None:
    assert doctest.testmod(placement).failed == 0


def test_leaders_and_replicas_spread_evenly() -> None:
    brokers = [UsableBroker(b) for b in range(5)]
    parts = place_replicas(brokers, 100, 3, random.Random(0))
    assert all(len(set(p)) == 3 for p in parts)
    assert set(Counter(p[0] for p in parts).values()) == {20}
    assert set(Counter(b for p in parts for b in p).values()) == {60}


def test_replicas_spread_over_racks() -> None:
    brokers = [UsableBroker(b, rack=f"r{b % 3}") for b in range(6)]
    for replicas in place_replicas(brokers, 30, 3, random.Random(1)):
        assert len({f"r{b % 3}" for b in replicas}) == 3


def test_fenced_brokers_never_lead_but_may_follow() -> None:
    brokers = [UsableBroker(0), UsableBroker(1, fenced=True), UsableBroker(2)]
    parts = place_replicas(brokers, 10, 3, random.Random(2))
    assert all(p[0] != 1 for p in parts)
    assert all(1 in p for p in parts)


def test_same_rng_same_placement() -> None:
    brokers = [UsableBroker(b) for b in range(4)]
    assert place_replicas(brokers, 8, 2, random.Random(5)) == place_replicas(brokers, 8, 2, random.Random(5))


@pytest.mark.parametrize("brokers,rf,message", [
    ([UsableBroker(0), UsableBroker(1)], 3,
     "The target replication factor of 3 cannot be reached because only 2 broker(s) are registered."),
    ([UsableBroker(0, fenced=True)], 1, "All brokers are currently fenced."),
    ([UsableBroker(0)], 0, "Invalid replication factor 0: the replication factor must be positive."),
])
def test_errors(brokers: list[UsableBroker], rf: int, message: str) -> None:
    with pytest.raises(InvalidReplicationFactorError) as info:
        StripedReplicaPlacer(random.Random(0)).place(brokers, 1, rf)
    assert info.value.message == message


def test_rng_must_be_handed_in() -> None:
    with pytest.raises(TypeError, match="random.Random"):
        StripedReplicaPlacer(0)  # type: ignore[arg-type]
