"""The network model: timing, bandwidth and FIFO, loss statistics, partitions (Jepsen's rules), crashes."""
import statistics

import pytest

from kafkalab.sim import Kernel, LinkSpec, Network, Owner


def make_net(spec=None, nodes=(1, 2, 3), clients=(), seed=0):
    k = Kernel(seed=seed)
    net = Network(k, spec or LinkSpec(latency_ms=1.0, jitter_ms=0.0, bandwidth_bytes_per_ms=None))
    inbox = {n: [] for n in (*nodes, *clients)}
    for n in nodes:
        net.register(n, lambda src, msg, n=n: inbox[n].append((k.now, src, msg)))
    for c in clients:
        net.register(c, lambda src, msg, c=c: inbox[c].append((k.now, src, msg)), server=False)
    return k, net, inbox


def test_latency_without_jitter_is_exact():
    k, net, inbox = make_net(LinkSpec(latency_ms=2.5, jitter_ms=0.0, bandwidth_bytes_per_ms=None))
    net.send(1, 2, "hello")
    k.run(10)
    assert inbox[2] == [(2.5, 1, "hello")]


def test_bandwidth_serialises_messages_fifo_behind_each_other():
    # 1,000 bytes per ms: a 10,000-byte message occupies the link for 10 ms
    k, net, inbox = make_net(LinkSpec(latency_ms=1.0, jitter_ms=0.0, bandwidth_bytes_per_ms=1000.0))
    net.send(1, 2, "big", size_bytes=10_000)
    net.send(1, 2, "small", size_bytes=100)
    k.run(50)
    assert inbox[2] == [(11.0, 1, "big"), (11.1, 1, "small")]


def test_links_are_independent_per_direction():
    k, net, inbox = make_net(LinkSpec(latency_ms=1.0, jitter_ms=0.0, bandwidth_bytes_per_ms=1000.0))
    net.send(1, 2, "big", size_bytes=10_000)
    net.send(2, 1, "reply", size_bytes=100)
    k.run(50)
    assert inbox[1] == [(pytest.approx(1.1), 2, "reply")]


def test_jitter_is_uniform_and_delivery_stays_in_order():
    k, net, inbox = make_net(LinkSpec(latency_ms=1.0, jitter_ms=4.0, bandwidth_bytes_per_ms=None))
    sends = []
    for i in range(2000):
        k.schedule(i * 3.0, lambda i=i: sends.append((k.now, net.send(1, 2, i))))
    k.run(10_000)
    values = [m for _, _, m in inbox[2]]
    assert values == list(range(2000))          # FIFO on a link, like a TCP connection
    delays = [arrival - sent for sent, arrival in sends]
    assert all(1.0 <= d < 5.0 for d in delays)  # latency + [0, jitter)
    assert statistics.mean(delays) == pytest.approx(3.0, abs=0.1)


def test_loss_probability_is_honoured_statistically():
    k, net, inbox = make_net(LinkSpec(latency_ms=1.0, jitter_ms=0.0, loss=0.2, bandwidth_bytes_per_ms=None))
    for i in range(5000):
        net.send(1, 2, i)
    k.run(10)
    delivered = len(inbox[2])
    assert 0.77 * 5000 < delivered < 0.83 * 5000
    assert [s["dropped"] for s in net.stats()] == [5000 - delivered]


def test_same_seed_same_jitter_different_seed_differs():
    def arrivals(seed):
        k, net, inbox = make_net(LinkSpec(latency_ms=1.0, jitter_ms=1.0, bandwidth_bytes_per_ms=None), seed=seed)
        for i in range(20):
            net.send(1, 2, i)
        k.run(10)
        return [t for t, _, _ in inbox[2]]

    assert arrivals(5) == arrivals(5)
    assert arrivals(5) != arrivals(6)


def test_partition_cuts_between_groups_and_unnamed_nodes_keep_links():
    k, net, inbox = make_net(nodes=(1, 2, 3, 4))
    net.partition([1, 2], [3])
    assert net.connected(1, 2) and not net.connected(1, 3) and not net.connected(3, 2)
    assert net.connected(4, 1) and net.connected(3, 4)   # 4 is in no group
    net.send(1, 3, "lost")
    net.send(1, 2, "ok")
    k.run(5)
    assert inbox[3] == [] and [m for *_, m in inbox[2]] == ["ok"]
    net.heal()
    net.send(1, 3, "after heal")
    k.run(5)
    assert [m for *_, m in inbox[3]] == ["after heal"]


def test_partition_drops_messages_already_in_flight():
    k, net, inbox = make_net()
    net.send(1, 2, "in flight")
    k.run(0.5)
    net.partition([1], [2])
    k.run(5)
    assert inbox[2] == []


def test_isolate_cuts_servers_but_not_clients():
    k, net, inbox = make_net(nodes=(1, 2, 3), clients=("c",))
    net.isolate(1)
    assert not net.connected(1, 2) and not net.connected(3, 1)
    assert net.connected("c", 1) and net.connected(1, "c")
    assert sorted(net.cuts()) == [(1, 2), (1, 3), (2, 1), (3, 1)]


def test_one_way_cut():
    k, net, inbox = make_net()
    net.cut(1, 2)
    net.send(1, 2, "lost")
    net.send(2, 1, "arrives")
    k.run(5)
    assert inbox[2] == [] and [m for *_, m in inbox[1]] == ["arrives"]


def test_slow_link_override_applies_to_one_link_only():
    k, net, inbox = make_net()
    net.set_link(1, 2, latency_ms=50.0)
    net.send(1, 2, "slow")
    net.send(1, 3, "fast")
    net.send(2, 1, "slow back")
    k.run(100)
    assert inbox[2][0][0] == 50.0 and inbox[3][0][0] == 1.0 and inbox[1][0][0] == 50.0
    net.reset_link(1, 2)
    net.send(1, 2, "normal")
    k.run(100)
    assert inbox[2][-1][0] == pytest.approx(101.0)


def test_down_node_receives_nothing_and_restart_drops_old_connection_bytes():
    k, net, inbox = make_net()
    net.send(1, 2, "to the old incarnation")
    net.down(2)
    net.attach(2, lambda src, msg: inbox[2].append((k.now, src, msg)), Owner("2#2"))
    net.send(1, 2, "to the new incarnation")
    k.run(5)
    assert [m for *_, m in inbox[2]] == ["to the new incarnation"]


def test_message_to_self_is_delivered_without_a_link():
    k, net, inbox = make_net()
    net.send(1, 1, "loopback", size_bytes=10**9)
    k.run(0)
    assert inbox[1] == [(0.0, 1, "loopback")]


@pytest.mark.parametrize("kwargs, message", [
    (dict(latency_ms=-1), "latency_ms must be >= 0, got -1"),
    (dict(jitter_ms=-0.5), "jitter_ms must be >= 0, got -0.5"),
    (dict(bandwidth_bytes_per_ms=0), r"bandwidth_bytes_per_ms must be > 0 or None \(infinite\), got 0"),
    (dict(loss=1.5), r"loss must be a probability in \[0, 1\], got 1.5"),
])
def test_bad_link_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LinkSpec(**kwargs)


def test_unknown_nodes_and_double_registration_are_clear_errors():
    k, net, inbox = make_net()
    with pytest.raises(KeyError, match="unknown node 9; registered nodes: 1, 2, 3"):
        net.send(1, 9, "x")
    with pytest.raises(KeyError, match="unknown node 7"):
        net.partition([1], [7])
    with pytest.raises(ValueError, match="node 1 is already registered"):
        net.register(1, print)
    with pytest.raises(ValueError, match="node 1 is named in two partition groups"):
        net.partition([1, 2], [1])


def test_a_client_writing_to_a_dead_process_on_a_live_host_gets_a_reset_back():
    from kafkalab.ports import ConnectionReset

    k, net, inbox = make_net(nodes=(1, 2), clients=("c",))
    net.down(1)                                    # kill -9: the host's kernel answers with RST
    net.send("c", 1, "produce")
    k.run(5)
    assert inbox["c"] == [(2.0, 1, ConnectionReset(1))]
    net.send(2, 1, "replica fetch")                # servers did not ask for resets
    k.run(5)
    assert inbox[2] == []


def test_no_reset_from_a_powered_off_host_or_across_a_partition():
    k, net, inbox = make_net(nodes=(1, 2), clients=("c",))
    net.down(1, host_up=False)
    net.send("c", 1, "produce")
    net.down(2)
    net.partition(["c"], [2])
    net.send("c", 2, "produce")
    k.run(5)
    assert inbox["c"] == []


def test_a_process_crash_resets_the_connections_of_clients_that_talked_to_it():
    from kafkalab.ports import ConnectionReset

    k, net, inbox = make_net(nodes=(1, 2), clients=("c", "d"))
    net.send("c", 1, "request in flight")
    k.run(5)                                       # delivered: the process holds it when it dies
    net.down(1)
    k.run(5)
    assert inbox["c"] == [(6.0, 1, ConnectionReset(1))]
    assert inbox["d"] == [] and inbox[2] == []     # no connection, or a server: nothing
    net.down(2, host_up=False)                     # power loss: silence
    k.run(5)
    assert inbox["c"] == [(6.0, 1, ConnectionReset(1))]
