"""Stories about partition leadership: AlterPartition with its epochs, unclean election only when enabled,
preferred leader election (on request and by the periodic imbalance check)."""
from kafkalab.metadata.records import LEADER_RECOVERY_RECOVERING
from kafkalab.protocol import admin as cm
from kafkalab.protocol.controller import AlterPartitionItem, AlterPartitionItemResult, AlterPartitionRequest
from tests.controller.harness import ControlPlane


def booted(seed: int = 21, config: dict[str, object] | None = None) -> ControlPlane:
    cp = ControlPlane(seed=seed, config=config)
    cp.boot()
    return cp


def alter(cp: ControlPlane, topic: str, partition: int, new_isr: tuple[int, ...], *, leader_epoch: int | None = None,
          partition_epoch: int | None = None, broker: int | None = None) -> AlterPartitionItemResult:
    part = cp.partition(topic, partition)
    broker = part.leader if broker is None else broker
    item = AlterPartitionItem(topic, partition, part.leader_epoch if leader_epoch is None else leader_epoch,
                                 new_isr, part.partition_epoch if partition_epoch is None else partition_epoch)
    resp = cp.request(AlterPartitionRequest(broker, cp.image().brokers[broker].broker_epoch, (item,)))
    assert resp.error == "NONE"
    result: AlterPartitionItemResult = resp.partitions[0]
    return result


def test_alter_partition_shrinks_and_expands_the_isr_with_partition_epochs() -> None:
    cp = booted()
    cp.create_topic("t", 1, 3)
    part = cp.partition("t")
    follower = part.replicas[2]
    shrunk = alter(cp, "t", 0, tuple(r for r in part.isr if r != follower))
    assert shrunk.error == "NONE" and follower not in shrunk.isr
    assert (shrunk.leader, shrunk.leader_epoch, shrunk.partition_epoch) == (part.leader, 0, 1)   # no epoch bump
    expanded = alter(cp, "t", 0, part.isr)
    assert expanded.error == "NONE" and expanded.isr == part.isr and expanded.partition_epoch == 2


def test_stale_partition_epoch_and_leader_epoch_are_rejected() -> None:
    cp = booted(seed=22)
    cp.create_topic("t", 1, 3)
    part = cp.partition("t")
    alter(cp, "t", 0, part.isr[:2])
    stale = alter(cp, "t", 0, part.isr[:1], partition_epoch=0)
    assert stale.error == "INVALID_UPDATE_VERSION"
    fenced = alter(cp, "t", 0, part.isr[:1], leader_epoch=-1)
    assert fenced.error == "FENCED_LEADER_EPOCH"
    not_leader = alter(cp, "t", 0, part.isr[:2], broker=part.isr[1])
    assert not_leader.error == "INVALID_REQUEST"
    stale_broker = cp.request(AlterPartitionRequest(part.leader, 0, ()))
    assert stale_broker.error == "STALE_BROKER_EPOCH"


def test_isr_cannot_grow_with_a_fenced_broker() -> None:
    cp = booted(seed=23)
    cp.create_topic("t", 1, 3)
    part = cp.partition("t")
    out = part.replicas[2]
    alter(cp, "t", 0, tuple(r for r in part.isr if r != out))
    cp.crash(out)
    assert cp.run_until(lambda: cp.image().brokers[out].fenced, 20_000)
    rejected = alter(cp, "t", 0, part.isr)
    assert rejected.error == "INELIGIBLE_REPLICA"
    assert out not in cp.partition("t").isr


def shrink_to_leader(cp: ControlPlane, topic: str) -> tuple[int, int]:
    part = cp.partition(topic)
    alter(cp, topic, 0, (part.leader,))
    return part.leader, part.replicas[1] if part.replicas[0] == part.leader else part.replicas[0]


def test_without_unclean_election_a_partition_whose_isr_died_goes_offline() -> None:
    cp = booted(seed=24, config={"eligible.leader.replicas.version": 0})
    cp.create_topic("t", 1, 2)
    leader, other = shrink_to_leader(cp, "t")
    cp.crash(leader)
    assert cp.run_until(lambda: cp.image().brokers[leader].fenced, 20_000)
    part = cp.partition("t")
    assert part.leader == -1 and part.isr == (leader,) and part.leader_epoch == 1
    cp.run(5_000)
    assert cp.partition("t").leader == -1          # the live out-of-sync replica is never elected


def test_with_elr_the_dead_last_isr_member_is_kept_as_eligible_and_the_out_of_sync_replica_still_never_leads() -> None:
    cp = booted(seed=24)                          # eligible.leader.replicas.version=1 (the 4.1+ default)
    cp.create_topic("t", 1, 2)
    leader, other = shrink_to_leader(cp, "t")
    cp.crash(leader)
    assert cp.run_until(lambda: cp.image().brokers[leader].fenced, 20_000)
    part = cp.partition("t")
    # The ISR empties; the last member was in it while the ISR was below min ISR: it is the ELR and last leader.
    assert (part.leader, part.isr, part.eligible_leader_replicas, part.last_known_elr, part.leader_epoch) == \
        (-1, (), (leader,), (leader,), 1)
    cp.run(5_000)
    assert cp.partition("t").leader == -1          # the live out-of-sync replica is never elected


def test_unclean_election_when_the_topic_allows_it() -> None:
    cp = booted(seed=25)
    cp.create_topic("t", 1, 2, configs={"unclean.leader.election.enable": "true"})
    leader, other = shrink_to_leader(cp, "t")
    cp.crash(leader)
    assert cp.run_until(lambda: cp.image().brokers[leader].fenced, 20_000)
    part = cp.partition("t")
    assert part.leader == other and part.isr == (other,)
    assert part.leader_recovery_state == LEADER_RECOVERY_RECOVERING


def test_unclean_election_from_the_broker_default_and_on_a_config_change() -> None:
    cp = booted(seed=26, config={"unclean.leader.election.enable": True})
    cp.create_topic("a", 1, 2)
    cp.create_topic("b", 1, 2, configs={"unclean.leader.election.enable": "false"})
    la, oa = shrink_to_leader(cp, "a")
    lb, ob = shrink_to_leader(cp, "b")
    for b in {la, lb}:
        cp.crash(b)
    assert cp.run_until(lambda: all(cp.image().brokers[b].fenced for b in {la, lb}), 20_000)
    if oa not in {la, lb}:
        assert cp.partition("a").leader == oa
    assert cp.partition("b").leader == -1
    if ob not in {la, lb}:
        resp = cp.request(cm.IncrementalAlterConfigsRequest((cm.AlterConfigsResource(
            "topic", "b", (cm.AlterConfigOp("unclean.leader.election.enable", "SET", "true"),)),)))
        assert resp.responses[0].error == "NONE"
        assert cp.partition("b").leader == ob


def test_elect_leaders_unclean_on_request() -> None:
    cp = booted(seed=27)
    cp.create_topic("t", 1, 2)
    leader, other = shrink_to_leader(cp, "t")
    cp.crash(leader)
    assert cp.run_until(lambda: cp.image().brokers[leader].fenced, 20_000)
    resp = cp.request(cm.ElectLeadersRequest(cm.ELECTION_UNCLEAN, (("t", 0), ("nope", 0))))
    assert [r.error for r in resp.results] == ["NONE", "UNKNOWN_TOPIC_OR_PARTITION"]
    assert cp.partition("t").leader == other


def test_preferred_leader_election_on_request() -> None:
    cp = booted(seed=28)
    cp.create_topic("t", 1, 3)
    preferred = cp.partition("t").replicas[0]
    cp.crash(preferred)
    assert cp.run_until(lambda: cp.partition("t").leader != preferred, 20_000)
    epoch_after_failover = cp.partition("t").leader_epoch
    cp.restart(preferred)
    assert cp.run_until(lambda: not cp.image().brokers[preferred].fenced, 20_000)
    # The restarted broker is not in the ISR until its leader expands it (AlterPartition), so it cannot lead yet.
    resp = cp.request(cm.ElectLeadersRequest(cm.ELECTION_PREFERRED, (("t", 0),)))
    assert resp.results[0].error == "PREFERRED_LEADER_NOT_AVAILABLE"
    alter(cp, "t", 0, cp.partition("t").isr + (preferred,))
    resp = cp.request(cm.ElectLeadersRequest(cm.ELECTION_PREFERRED, (("t", 0),)))
    assert resp.results[0].error == "NONE"
    part = cp.partition("t")
    assert part.leader == preferred and part.leader_epoch == epoch_after_failover + 1
    again = cp.request(cm.ElectLeadersRequest(cm.ELECTION_PREFERRED, (("t", 0),)))
    assert again.results[0].error == "ELECTION_NOT_NEEDED"


def test_automatic_preferred_leader_rebalancing() -> None:
    cp = booted(seed=29, config={"leader.imbalance.check.interval.seconds": 30})
    cp.create_topic("t", 3, 3)
    preferred = {p: part.replicas[0] for p, part in cp.image().topics["t"].partitions.items()}
    victim = preferred[0]
    cp.crash(victim)
    assert cp.run_until(lambda: cp.partition("t", 0).leader != victim, 20_000)
    cp.restart(victim)
    assert cp.run_until(lambda: not cp.image().brokers[victim].fenced, 20_000)
    for p, part in cp.image().topics["t"].partitions.items():
        if victim not in part.isr:
            alter(cp, "t", p, part.isr + (victim,))
    assert cp.run_until(lambda: all(cp.partition("t", p).leader == preferred[p] for p in preferred), 31_000)
