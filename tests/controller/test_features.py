"""Feature levels (KIP-584, KIP-1022): what a new cluster is formatted with, what the first active controller writes
to the metadata log, and every way a format choice can be refused."""
import random

import pytest

from kafkalab.config import resolve
from kafkalab.controller.quorum_controller import QuorumController
from kafkalab.errors import ConfigError
from kafkalab.metadata import features as kf
from kafkalab.metadata.image import MetadataImage
from kafkalab.metadata.records import FeatureLevelRecord
from tests.controller.harness import ControlPlane
from tests.controller.test_quorum_controller import FakeLog


def formatted(**config: object) -> dict[str, int]:
    return kf.bootstrap_features(resolve("broker", {k.replace("_", "."): v for k, v in config.items()}))


def test_a_new_cluster_gets_the_defaults_of_kafka_4_3() -> None:
    assert formatted() == {"eligible.leader.replicas.version": 1, "group.version": 1, "kraft.version": 0,
                           "metadata.version": 30, "share.version": 1, "streams.version": 1,
                           "transaction.version": 2}
    assert kf.metadata_version_name(30) == "4.3-IV0" == kf.LATEST_PRODUCTION_METADATA_VERSION


@pytest.mark.parametrize("release,mv,elr,group,txn,share", [
    ("3.9", 21, 0, 0, 0, 0),        # before Kafka 4: no KIP-848, no KIP-890 v2
    ("4.0", 25, 0, 1, 2, 0),        # ELR exists but is off by default (ELRV_1 bootstraps at 4.1-IV0)
    ("4.1", 27, 1, 1, 2, 0),        # ELR on by default for new clusters
    ("4.1-IV0", 26, 1, 1, 2, 0),
    ("4.2", 29, 1, 1, 2, 1),        # share groups GA
    ("4.3", 30, 1, 1, 2, 1),
])
def test_a_release_version_selects_every_default_of_that_release(release: str, mv: int, elr: int, group: int,
                                                                   txn: int, share: int) -> None:
    levels = formatted(metadata_version=release)
    assert (levels["metadata.version"], levels["eligible.leader.replicas.version"], levels["group.version"],
            levels["transaction.version"], levels["share.version"]) == (mv, elr, group, txn, share)


def test_a_feature_key_overrides_one_feature_as_format_dash_dash_feature_does() -> None:
    assert formatted(**{"eligible.leader.replicas.version": 0})["eligible.leader.replicas.version"] == 0
    assert formatted(**{"metadata.version": "4.0", "eligible.leader.replicas.version": "1"})[
        "eligible.leader.replicas.version"] == 1


def test_elr_needs_a_metadata_version_with_the_elr_fields() -> None:
    with pytest.raises(ConfigError) as err:
        formatted(**{"metadata.version": "3.9", "eligible.leader.replicas.version": 1})
    assert str(err.value) == ("eligible.leader.replicas.version could not be set to 1 because it depends on "
                              "metadata.version level 23 (4.0-IV1); metadata.version is 3.9-IV0")
    assert err.value.key == "eligible.leader.replicas.version"


@pytest.mark.parametrize("text,closest", [("4.7", "4.3"), ("4.1-IV3", "4.1-IV1"), ("4.1-iv1", "4.1-IV1")])
def test_an_unknown_metadata_version_names_the_closest_one(text: str, closest: str) -> None:
    with pytest.raises(ConfigError) as err:
        formatted(metadata_version=text)
    assert str(err.value) == (f"unknown metadata.version {text!r} (did you mean {closest!r}?): kafkalab supports "
                              f"3.3-IV3 to 4.3-IV0, or a release 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0, 4.1, 4.2, 4.3")
    assert err.value.key == "metadata.version"


def test_a_misspelt_feature_name_names_the_feature() -> None:
    with pytest.raises(ConfigError) as err:
        resolve("broker", {"eligible.leader.replica.version": 1})
    assert str(err.value) == ("unknown broker config 'eligible.leader.replica.version': did you mean "
                              "'eligible.leader.replicas.version'?")
    with pytest.raises(ConfigError) as err:
        kf.supported_range("group.versions")
    assert str(err.value) == ("unknown feature 'group.versions' (did you mean 'group.version'?); features: "
                              "eligible.leader.replicas.version, group.version, kraft.version, metadata.version, "
                              "share.version, streams.version, transaction.version")


def test_a_level_outside_the_supported_range_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        resolve("broker", {"eligible.leader.replicas.version": 2})
    assert str(err.value) == ("invalid value 2 for broker config 'eligible.leader.replicas.version' (short): value "
                              "must be in [0, 1]")
    with pytest.raises(ConfigError) as err:
        kf.bootstrap_features({"transaction.version": 3})
    assert str(err.value) == "invalid value 3 for feature 'transaction.version': supported levels are 0 to 2"


def test_kraft_version_1_is_refused_for_a_static_quorum() -> None:
    with pytest.raises(ConfigError) as err:
        formatted(**{"kraft.version": 1})
    assert str(err.value) == ("Cannot set kraft.version to 1 unless KIP-853 configuration is present: kafkalab's "
                              "controller quorum has static voters (controller.quorum.voters), so kraft.version is 0")


def test_a_bad_choice_stops_the_controller_before_it_starts() -> None:
    with pytest.raises(ConfigError, match="depends on metadata.version level 23"):
        QuorumController(1, FakeLog(), random.Random(0),
                         {"metadata.version": "3.8", "eligible.leader.replicas.version": 1})


def test_the_first_active_controller_writes_the_feature_levels_first_and_only_once() -> None:
    port = FakeLog()
    qc = QuorumController(1, port, random.Random(0), {"eligible.leader.replicas.version": 0})
    qc.activate(0.0, 0)
    assert port.log == [FeatureLevelRecord("metadata.version", 30), FeatureLevelRecord("group.version", 1),
                        FeatureLevelRecord("share.version", 1), FeatureLevelRecord("streams.version", 1),
                        FeatureLevelRecord("transaction.version", 2)]   # level 0 is not written
    image = MetadataImage()
    for offset, record in enumerate(port.log):
        image.replay(record, offset)
    assert image.features == {"metadata.version": 30, "group.version": 1, "share.version": 1, "streams.version": 1,
                              "transaction.version": 2}
    assert not kf.elr_enabled(image.features)
    # A later active controller finds metadata.version in its image and writes nothing.
    other_port = FakeLog()
    other = QuorumController(2, other_port, random.Random(0))
    other.reset_image(image)
    other.activate(0.0, len(port.log))
    assert other_port.log == []


def test_every_node_replays_the_same_levels_and_a_level_0_record_removes_a_feature() -> None:
    cp = ControlPlane(seed=3, config={"metadata.version": "4.1"})
    cp.boot()
    expected = {"metadata.version": 27, "eligible.leader.replicas.version": 1, "group.version": 1,
                "transaction.version": 2}
    assert cp.image().features == expected
    assert all(cp.broker(b).image.features == expected for b in (0, 1, 2))
    image = cp.image().copy()
    image.replay(FeatureLevelRecord("group.version", 0))
    assert "group.version" not in image.features and cp.image().features == expected
