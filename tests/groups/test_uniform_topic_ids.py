"""The consumer-group coordinator hands ``uniform`` the metadata image's topic ids when its port can tell them,
so Kafka's topic-id order decides which member keeps which topic."""
from __future__ import annotations

from collections.abc import Mapping

import pytest

from kafkalab.groups.consumer_group import ConsumerGroupManager
from tests.groups.test_consumer_group import Client, FakePort

# Kafka's test ids: T1 falls in HashMap bucket 10 of 16, T2 in bucket 1, so a map of both iterates T2 first
T1, T2 = "T1-A4s3VTwiI5CTbEp6POw", "T2-B4s3VTwiI5YHbPp6YUe"


class PortWithTopicIds(FakePort):
    def __init__(self, topics: Mapping[str, int], ids: Mapping[str, str]) -> None:
        super().__init__(topics)
        self.ids = dict(ids)

    def topic_ids(self) -> Mapping[str, str]:
        return dict(self.ids)


@pytest.mark.parametrize(("ids", "a_keeps"), [({"x": T1, "y": T2}, "y"), ({"x": T2, "y": T1}, "x")])
def test_the_member_over_quota_keeps_the_topic_it_iterates_first_by_topic_id(ids: dict[str, str],
                                                                              a_keeps: str) -> None:
    port = PortWithTopicIds({"x": 1, "y": 1}, ids)
    mgr = ConsumerGroupManager(port, {})
    a, b = Client(mgr, "A", ("x", "y")), Client(mgr, "B", ("x", "y"))
    a.heartbeat()
    assert {tp.topic for tp in a.owned} == {"x", "y"}
    b.heartbeat()
    response = a.heartbeat()
    assert response is not None and response.assignment is not None
    assert {tp.topic for tp in response.assignment} == {a_keeps}
