"""Every request and response, as frozen values: the wire vocabulary shared by clients, brokers, coordinators and
controllers (Kafka's ``clients/.../common/requests`` and ``common/message``, generated there from ``*.json`` schemas).

One module per API family, named as Kafka names the API, with Kafka's field names in snake case and errors as Kafka's
error names (``"NONE"``, ``"NOT_LEADER_OR_FOLLOWER"``, ...):
:mod:`.metadata` (Metadata), :mod:`.produce` (Produce), :mod:`.fetch` (Fetch, with KIP-227 sessions),
:mod:`.list_offsets` (ListOffsets), :mod:`.txn` (InitProducerId), :mod:`.group` (FindCoordinator, JoinGroup,
SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch), :mod:`.group_admin` (OffsetDelete, DeleteGroups),
:mod:`.consumer_group` (KIP-848's
ConsumerGroupHeartbeat), :mod:`.raft` (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch, FetchSnapshot of KRaft),
:mod:`.controller` (BrokerRegistration, BrokerHeartbeat, AlterPartition, AllocateProducerIds) and :mod:`.admin`
(CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs, ElectLeaders). :mod:`.common` holds the
success error name; :mod:`.sizes` what a data-plane message costs on the modelled link.

This package imports only :mod:`kafkalab.common`: a client never depends on a server package for its vocabulary.
"""
