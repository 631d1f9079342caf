"""Kafka feature levels (KIP-584, KIP-778, KIP-1022): which version-dependent behaviour a cluster runs.

How it works. Kafka 4 does not pick behaviour from a broker's software version but from *finalized feature levels*
kept in the metadata log: one ``FeatureLevelRecord`` per feature (``metadata.version``, ``transaction.version``,
``group.version``, ``eligible.leader.replicas.version``, ...). ``kafka-storage format`` chooses them once, from
``--release-version`` (every feature at that release's default) and ``--feature NAME=LEVEL`` (one feature), and puts
them in the bootstrap checkpoint; the first active controller of an empty log writes them as its first records
(``ActivationRecordsGenerator.recordsForEmptyLog``); everyone replays them into the image; ``kafka-features
describe`` lists each feature's supported range and finalized level.

kafkalab does the same: :func:`bootstrap_features` resolves the format-time choice from the broker config keys
``metadata.version`` (a release such as ``"4.1"`` or a level name such as ``"4.1-IV1"``, like
``--release-version``) and one key per feature (``eligible.leader.replicas.version=0``, like ``--feature``), and
the quorum controller writes the result when it activates on an empty log. Config keys were chosen over a new
``Cluster`` argument because a ``Cluster`` *is* format plus start: its config is the only place a user states how
the cluster is set up, and the feature names are Kafka's own. A level only changes what kafkalab models
(``eligible.leader.replicas.version`` switches KIP-966's eligible leader replicas on); the others are recorded and
reported. No ``UpdateFeatures`` (``kafka-features upgrade``) yet: levels stay as formatted.

Defaults and where they come from (:data:`RELEASES`, :data:`FEATURES`): each feature level names the first
``metadata.version`` whose new clusters get it by default (Kafka's ``FeatureVersion.bootstrapMetadataVersion``), so
a release's defaults follow from its latest production ``metadata.version`` (``Feature.defaultVersion``):

=================================== ========= =========================================================
feature                             level     default for new clusters from (Kafka source)
=================================== ========= =========================================================
metadata.version                    7-30      3.3-IV3 (7, ``MINIMUM_VERSION``) up to each release's latest:
                                              4.0 -> 4.0-IV3 (25), 4.1 -> 4.1-IV1 (27), 4.2 -> 4.2-IV1 (29),
                                              4.3 -> 4.3-IV0 (30) (``MetadataVersion.LATEST_PRODUCTION``)
group.version                       1         4.0-IV0: KIP-848 consumer protocol (``GroupVersion.GV_1``)
transaction.version                 2         4.0-IV2: KIP-890 epoch bump (``TransactionVersion.TV_2``)
eligible.leader.replicas.version    1         4.1-IV0, needs metadata.version >= 4.0-IV1 (``ELRV_1``)
share.version                       1         4.2-IV0: KIP-932 share groups (``ShareVersion.SV_1``)
streams.version                     1         4.2-IV1: KIP-1071 streams groups (``StreamsVersion.SV_1``)
kraft.version                       0         a static ``controller.quorum.voters`` quorum is formatted at 0;
                                              1 (KIP-853) needs ``--standalone``/``--initial-controllers``
=================================== ========= =========================================================

The modelled release is the latest Kafka 4 release, 4.3 (``LATEST_PRODUCTION = IBP_4_3_IV0``, level 30).
``kraft.version`` lives in the Raft log (``KRaftVersionRecord``), not in a ``FeatureLevelRecord``; kafkalab's quorum
has static voters, so it is reported as 0 and cannot be set to 1. ``share.version`` and ``streams.version`` are
recorded but change nothing (kafkalab models neither share groups nor the streams group protocol).
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafkalab.errors import ConfigError

__all__ = [
    "METADATA_VERSION", "KRAFT_VERSION", "ELR_VERSION", "GROUP_VERSION", "TRANSACTION_VERSION", "SHARE_VERSION",
    "STREAMS_VERSION", "METADATA_VERSIONS", "MINIMUM_METADATA_VERSION", "LATEST_PRODUCTION_METADATA_VERSION",
    "MODELLED_RELEASE", "RELEASES", "FeatureLevel", "FEATURES", "FEATURE_NAMES", "metadata_version_level",
    "metadata_version_name", "default_levels", "bootstrap_features", "supported_range", "ELR_MIN_METADATA_VERSION",
    "elr_enabled",
]

METADATA_VERSION = "metadata.version"
KRAFT_VERSION = "kraft.version"
ELR_VERSION = "eligible.leader.replicas.version"
GROUP_VERSION = "group.version"
TRANSACTION_VERSION = "transaction.version"
SHARE_VERSION = "share.version"
STREAMS_VERSION = "streams.version"

#: Kafka's ``MetadataVersion`` values a 4.x controller accepts (``MINIMUM_VERSION`` = 3.3-IV3 up to 4.3's
#: ``LATEST_PRODUCTION``), name -> feature level.
METADATA_VERSIONS: dict[str, int] = {
    "3.3-IV3": 7, "3.4-IV0": 8, "3.5-IV0": 9, "3.5-IV1": 10, "3.5-IV2": 11, "3.6-IV0": 12, "3.6-IV1": 13,
    "3.6-IV2": 14, "3.7-IV0": 15, "3.7-IV1": 16, "3.7-IV2": 17, "3.7-IV3": 18, "3.7-IV4": 19, "3.8-IV0": 20,
    "3.9-IV0": 21, "4.0-IV0": 22, "4.0-IV1": 23, "4.0-IV2": 24, "4.0-IV3": 25, "4.1-IV0": 26, "4.1-IV1": 27,
    "4.2-IV0": 28, "4.2-IV1": 29, "4.3-IV0": 30,
}
MINIMUM_METADATA_VERSION = "3.3-IV3"
LATEST_PRODUCTION_METADATA_VERSION = "4.3-IV0"
#: KIP-966 needs the ELR fields of PartitionRecord (``MetadataVersion.isElrSupported``; ``ELRV_1``'s dependency).
ELR_MIN_METADATA_VERSION = "4.0-IV1"
MODELLED_RELEASE = "4.3"


def _latest_of_each_release() -> dict[str, str]:
    latest: dict[str, str] = {}
    for name in METADATA_VERSIONS:      # in level order: the last IV of a release wins
        latest[name.split("-")[0]] = name
    return latest


#: ``--release-version X.Y`` -> the latest ``metadata.version`` of that release (``MetadataVersion.fromVersionString``).
RELEASES: dict[str, str] = _latest_of_each_release()


@dataclass(frozen=True, slots=True)
class FeatureLevel:
    """One level of one feature: new clusters at ``bootstrap_metadata_version`` or later get it by default; it needs
    ``requires`` (feature -> minimum level) finalized; ``what`` it turns on; ``source``: where Kafka defines it."""

    feature: str
    level: int
    bootstrap_metadata_version: str
    what: str
    source: str
    requires: tuple[tuple[str, int], ...] = ()


#: Every level above 0 of the features besides ``metadata.version`` (level 0 is "off" and needs nothing).
FEATURES: tuple[FeatureLevel, ...] = (
    FeatureLevel(KRAFT_VERSION, 1, "3.9-IV0", "KIP-853 dynamic controller quorum (not modelled: static voters)",
                 "KRaftVersion.KRAFT_VERSION_1", ((METADATA_VERSION, 21),)),
    FeatureLevel(TRANSACTION_VERSION, 1, "4.0-IV2", "KIP-890 flexible transaction state records",
                 "TransactionVersion.TV_1"),
    FeatureLevel(TRANSACTION_VERSION, 2, "4.0-IV2", "KIP-890 part 2: producer epoch bump per transaction",
                 "TransactionVersion.TV_2"),
    FeatureLevel(GROUP_VERSION, 1, "4.0-IV0", "KIP-848 consumer group protocol", "GroupVersion.GV_1"),
    FeatureLevel(ELR_VERSION, 1, "4.1-IV0", "KIP-966 eligible leader replicas",
                 "EligibleLeaderReplicasVersion.ELRV_1", ((METADATA_VERSION, 23),)),
    FeatureLevel(SHARE_VERSION, 1, "4.2-IV0", "KIP-932 share groups (not modelled)", "ShareVersion.SV_1"),
    FeatureLevel(STREAMS_VERSION, 1, "4.2-IV1", "KIP-1071 streams group protocol (not modelled)",
                 "StreamsVersion.SV_1"),
)
#: The features ``kafka-features describe`` lists, in its order (sorted by name).
FEATURE_NAMES: tuple[str, ...] = tuple(sorted({METADATA_VERSION, *(f.feature for f in FEATURES)}))


def supported_range(feature: str) -> tuple[int, int]:
    """(SupportedMinVersion, SupportedMaxVersion) of a kafkalab 4.3 node (production levels only)."""
    if feature == METADATA_VERSION:
        return METADATA_VERSIONS[MINIMUM_METADATA_VERSION], METADATA_VERSIONS[LATEST_PRODUCTION_METADATA_VERSION]
    levels = [f.level for f in FEATURES if f.feature == feature]
    if not levels:
        raise _unknown_feature(feature)
    return 0, max(levels)


def metadata_version_name(level: int) -> str:
    """``27`` -> ``"4.1-IV1"``."""
    for name, value in METADATA_VERSIONS.items():
        if value == level:
            return name
    raise ValueError(f"unknown metadata.version level {level}")


def metadata_version_level(text: str) -> int:
    """A ``metadata.version`` as ``--release-version`` takes it: a release (``"4.1"``: its latest level) or a level
    name (``"4.1-IV1"``). Raises ConfigError naming the closest valid version."""
    name = RELEASES.get(text, text)
    if name in METADATA_VERSIONS:
        return METADATA_VERSIONS[name]
    choices = [*RELEASES, *METADATA_VERSIONS]
    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"unknown metadata.version {text!r}{hint}: kafkalab supports {MINIMUM_METADATA_VERSION} to "
                      f"{LATEST_PRODUCTION_METADATA_VERSION}, or a release {', '.join(RELEASES)}",
                      key=METADATA_VERSION, scope="broker", value=text)


def default_levels(metadata_version: int) -> dict[str, int]:
    """Every feature's default for a new cluster at ``metadata_version`` (Kafka's ``Feature.defaultLevel``: the
    highest level whose bootstrap metadata version is not after it). ``kraft.version`` stays 0 (static voters)."""
    levels = {name: 0 for name in FEATURE_NAMES}
    levels[METADATA_VERSION] = metadata_version
    for f in FEATURES:
        if f.feature != KRAFT_VERSION and METADATA_VERSIONS[f.bootstrap_metadata_version] <= metadata_version:
            levels[f.feature] = max(levels[f.feature], f.level)
    return levels


def bootstrap_features(config: Mapping[str, Any]) -> dict[str, int]:
    """The finalized levels a new cluster is formatted with, from a broker config: ``metadata.version`` (default
    :data:`LATEST_PRODUCTION_METADATA_VERSION`) gives every default, each feature key set to a level overrides its
    feature. Checked as ``kafka-storage format`` checks them (``Feature.validateVersion``): a level that needs a newer
    metadata.version is refused with Kafka's message; ``kraft.version=1`` is refused since the quorum is static.
    Returns a dict by feature name, in :data:`FEATURE_NAMES` order."""
    mv_text = config.get(METADATA_VERSION)
    mv = METADATA_VERSIONS[LATEST_PRODUCTION_METADATA_VERSION] if mv_text is None \
        else metadata_version_level(str(mv_text))
    levels = default_levels(mv)
    for name in FEATURE_NAMES:
        if name == METADATA_VERSION:
            continue
        value = config.get(name)
        if value is None:
            continue
        lo, hi = supported_range(name)
        if not lo <= int(value) <= hi:
            raise ConfigError(f"invalid value {value!r} for feature {name!r}: supported levels are {lo} to {hi}",
                              key=name, scope="broker", value=value)
        levels[name] = int(value)
    if levels[KRAFT_VERSION] != 0:
        raise ConfigError("Cannot set kraft.version to 1 unless KIP-853 configuration is present: kafkalab's "
                          "controller quorum has static voters (controller.quorum.voters), so kraft.version is 0",
                          key=KRAFT_VERSION, scope="broker", value=levels[KRAFT_VERSION])
    for f in FEATURES:
        if levels[f.feature] != f.level:
            continue
        for needed, at_least in f.requires:
            if levels[needed] < at_least:
                # Kafka's Feature.validateVersion wording
                raise ConfigError(f"{f.feature} could not be set to {f.level} because it depends on {needed} level "
                                  f"{at_least} ({metadata_version_name(at_least)}); metadata.version is "
                                  f"{metadata_version_name(levels[needed])}", key=f.feature, scope="broker",
                                  value=f.level)
    return levels


def elr_enabled(features: Mapping[str, int]) -> bool:
    """KIP-966 is on: ``eligible.leader.replicas.version >= 1`` and a metadata.version with the ELR fields
    (``ReplicationControlManager.isElrEnabled`` / ``FeatureControlManager.isElrFeatureEnabled``)."""
    return (features.get(ELR_VERSION, 0) >= 1
            and features.get(METADATA_VERSION, 0) >= METADATA_VERSIONS[ELR_MIN_METADATA_VERSION])


def _unknown_feature(name: str) -> ConfigError:
    close = difflib.get_close_matches(name, FEATURE_NAMES, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown feature {name!r}{hint}; features: {', '.join(FEATURE_NAMES)}", key=name)
