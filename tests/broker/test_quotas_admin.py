"""Configuring client quotas through the admin client (KIP-546): what is accepted, what is refused and how the refusal
reads, and how quotas travel through the metadata log (records, snapshots, every broker's image)."""
from __future__ import annotations

import pytest

import kafkalab as kl
from kafkalab.errors import InvalidRequestError
from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.records import ClientQuotaRecord
from kafkalab.protocol.quotas import MATCH_ANY, MATCH_EXACT, ClientQuotaFilterComponent


@pytest.fixture(scope="module")
def cluster() -> kl.Cluster:
    return kl.Cluster(brokers=2, controllers=1, seed=11)


def refused(cluster: kl.Cluster, entity: dict, quotas: dict) -> str:
    with pytest.raises(InvalidRequestError) as info:
        cluster.admin.alter_client_quotas([(entity, quotas)])
    assert str(info.value).startswith("INVALID_REQUEST: ")
    return info.value.message


@pytest.mark.parametrize(("entity", "quotas", "expected"), [
    ({"client-id": "a"}, {"producer_byte_rat": 10},
     "client quotas of client-id 'a': Invalid configuration key 'producer_byte_rat'; supported keys: "
     "'producer_byte_rate', 'consumer_byte_rate', 'request_percentage'; did you mean 'producer_byte_rate'?"),
    ({"client-id": "a"}, {"producer_byte_rate": -5},
     "client quotas of client-id 'a': Quota producer_byte_rate must be greater than 0, got -5.0"),
    ({"client-id": "a"}, {"consumer_byte_rate": 0},
     "client quotas of client-id 'a': Quota consumer_byte_rate must be greater than 0, got 0.0"),
    ({"client-id": "a"}, {"consumer_byte_rate": 1.5},
     "client quotas of client-id 'a': consumer_byte_rate cannot be a fractional value: 1.5 (bytes per second, an "
     "integer)"),
    ({"clientid": "a"}, {"producer_byte_rate": 10},
     "client quotas of clientid 'a': Unhandled client quota entity type 'clientid'; allowed entity types: "
     "'client-id', 'user'; did you mean 'client-id'?"),
    ({"ip": "10.0.0.1"}, {"connection_creation_rate": 10},
     "client quotas of ip '10.0.0.1': Unsupported client quota entity type 'ip': connection quotas (KIP-612) are not "
     "modelled; allowed entity types: 'client-id', 'user'"),
    ({}, {"producer_byte_rate": 10},
     "client quotas of an empty entity: Invalid empty client quota entity: name at least one of the entity types 'client-id', "
     "'user'"),
    ({"client-id": ""}, {"producer_byte_rate": 10},
     "client quotas of client-id '': Empty client-id not supported: name one, or None for the default client-id "
     "entity"),
    ({"user": "u"}, {"controller_mutation_rate": 50},
     "client quotas of user 'u': Unsupported quota key 'controller_mutation_rate': the controller mutation quota "
     "(KIP-599) is not modelled; supported keys: 'producer_byte_rate', 'consumer_byte_rate', 'request_percentage'"),
    ({"user": "u"}, {"request_percentage": -1.5},
     "client quotas of user 'u': Quota request_percentage must be greater than 0, got -1.5"),
    ({"user": "u"}, {"controller_mutation_rat": None},
     "client quotas of user 'u': Invalid configuration key 'controller_mutation_rat'; supported keys: "
     "'producer_byte_rate', 'consumer_byte_rate', 'request_percentage'; did you mean 'controller_mutation_rate'?"),
])
def test_bad_quotas_are_refused_saying_what_is_wrong_and_what_is_allowed(cluster: kl.Cluster, entity: dict,
                                                                           quotas: dict, expected: str) -> None:
    assert refused(cluster, entity, quotas) == expected
    assert cluster.admin.describe_client_quotas() == {}         # nothing was written


def test_an_entity_named_twice_is_refused_the_second_time(cluster: kl.Cluster) -> None:
    with pytest.raises(InvalidRequestError, match=r"^INVALID_REQUEST: client quotas of client-id 'twice': Ignoring duplicate entity "
                                                  r"client-id 'twice'$"):
        cluster.admin.alter_client_quotas([({"client-id": "twice"}, {"producer_byte_rate": 10}),
                                           ({"client-id": "twice"}, {"producer_byte_rate": 20})])
    # each entity stands on its own, as in Kafka: the first was applied
    assert cluster.admin.describe_client_quotas({"client-id": "twice"}) == {
        (("client-id", "twice"),): {"producer_byte_rate": 10.0}}
    cluster.admin.alter_client_quotas([({"client-id": "twice"}, {"producer_byte_rate": None})])


@pytest.mark.parametrize(("alteration", "expected"), [
    ("client-id=a", r"an alteration is \(entity, \{quota key: value or None\}\), got 'client-id=a'"),
    (("client-id", {"producer_byte_rate": 1}), r"a quota entity is a dict of entity type to name \(None = the "
                                               r"default entity\), e.g. \{'client-id': 'app'\}, got str 'client-id'"),
    (({"client-id": 7}, {"producer_byte_rate": 1}), r"a quota entity's entries are \(entity type, name or None\), "
                                                    r"got \('client-id', 7\)"),
    (({"client-id": "a"}, {"producer_byte_rate": "fast"}), r"quota 'producer_byte_rate': a value is a number \(bytes "
                                                           r"per second\) or None to remove it, got str 'fast'"),
    (({"client-id": "a"}, {1: 5}), r"a quota key is a str such as 'producer_byte_rate', got 1"),
])
def test_a_malformed_alteration_is_a_type_error_before_anything_is_sent(cluster: kl.Cluster, alteration: object,
                                                                         expected: str) -> None:
    with pytest.raises(TypeError, match=f"^{expected}$"):
        cluster.admin.alter_client_quotas([alteration])  # type: ignore[list-item]


def test_validate_only_checks_without_writing(cluster: kl.Cluster) -> None:
    cluster.admin.alter_client_quotas([({"user": "v"}, {"producer_byte_rate": 10})], validate_only=True)
    assert cluster.admin.describe_client_quotas() == {}
    with pytest.raises(InvalidRequestError, match="must be greater than 0"):
        cluster.admin.alter_client_quotas([({"user": "v"}, {"producer_byte_rate": -1})], validate_only=True)


def test_quotas_reach_every_broker_and_describe_filters_like_kafka(cluster: kl.Cluster) -> None:
    admin = cluster.admin
    admin.alter_client_quotas([({"user": "alice", "client-id": "app"}, {"producer_byte_rate": 100}),
                               ({"user": "alice"}, {"consumer_byte_rate": 200}),
                               ({"user": None}, {"consumer_byte_rate": 300}),
                               ({"client-id": None}, {"producer_byte_rate": 400})])
    cluster.run(1_000)
    for b in cluster.brokers:
        quotas = cluster.broker(b).rm.quotas
        assert quotas.produce.quota("alice", "app") == 100.0
        assert quotas.fetch.quota("alice", "other") == 200.0
        assert quotas.fetch.quota("bob", "x") == 300.0          # the default user
    # exact user: only the user-only entity (not strict: the user+client entity matches too)
    assert set(admin.describe_client_quotas({"user": "alice"})) == {
        (("user", "alice"),), (("client-id", "app"), ("user", "alice"))}
    assert set(admin.describe_client_quotas({"user": "alice"}, strict=True)) == {(("user", "alice"),)}
    assert admin.describe_client_quotas({"user": None}) == {(("user", None),): {"consumer_byte_rate": 300.0}}
    assert set(admin.describe_client_quotas([ClientQuotaFilterComponent("client-id", MATCH_ANY)])) == {
        (("client-id", None),), (("client-id", "app"), ("user", "alice"))}
    # setting a value again and removing an absent key write nothing; removing the last key removes the entity
    before = cluster.controller(cluster.active_controller).image.offset
    admin.alter_client_quotas([({"user": "alice"}, {"consumer_byte_rate": 200, "producer_byte_rate": None})])
    assert cluster.controller(cluster.active_controller).image.offset - before < 5      # only control/no-op records
    admin.alter_client_quotas([({"user": "alice", "client-id": "app"}, {"producer_byte_rate": None}),
                               ({"user": "alice"}, {"consumer_byte_rate": None}),
                               ({"user": None}, {"consumer_byte_rate": None}),
                               ({"client-id": None}, {"producer_byte_rate": None})])
    assert admin.describe_client_quotas() == {}
    cluster.run(1_000)
    assert all(cluster.broker(b).rm.quotas.produce.quota("alice", "app") is None for b in cluster.brokers)


@pytest.mark.parametrize(("components", "expected"), [
    ([ClientQuotaFilterComponent("clientid", MATCH_ANY)],
     "describe client quotas: Unhandled client quota entity type 'clientid'; allowed entity types: 'client-id', "
     "'user'; did you mean 'client-id'?"),
    ([ClientQuotaFilterComponent("user", MATCH_EXACT, None)],
     "describe client quotas: Exact match of 'user' needs a non-empty name in match"),
    ([ClientQuotaFilterComponent("user", 7)],
     "describe client quotas: Unknown match type 7; allowed: 0 (exact), 1 (default), 2 (any)"),
])
def test_a_bad_describe_filter_is_refused(cluster: kl.Cluster, components: list, expected: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        cluster.admin.describe_client_quotas(components)
    assert info.value.message == expected


def test_a_snapshot_of_the_image_carries_the_quotas() -> None:
    image = MetadataImage()
    entity = (("client-id", None), ("user", "u"))
    image.replay(ClientQuotaRecord(entity, "producer_byte_rate", 5.0), 0)
    image.replay(ClientQuotaRecord((("user", None),), "consumer_byte_rate", 7.0), 1)
    image.replay(ClientQuotaRecord((("user", None),), "consumer_byte_rate", 0.0, remove=True), 2)
    assert image.client_quotas == {entity: {"producer_byte_rate": 5.0}}
    rebuilt = MetadataImage.from_records(image.write(), 2)
    assert rebuilt == image and rebuilt.client_quotas == image.client_quotas
    assert image.copy().client_quotas == image.client_quotas
