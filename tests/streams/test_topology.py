"""topology.describe() reads like Kafka's TopologyDescription for the same program: the expected texts are Kafka's own
test strings (TopologyTest, KStreamImplTest, StreamsGraphTest in apache/kafka), not ours."""
import pytest

from kafkalab import streams as ks


def test_group_by_key_count_is_one_subtopology_with_its_store():
    # TopologyTest.kGroupedStreamZeroArgCountShouldPreserveTopologyStructure
    b = ks.StreamsBuilder()
    b.stream("input-topic").group_by_key().count()
    assert str(b.build().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
        "      --> KSTREAM-AGGREGATE-0000000002\n"
        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
        "      --> none\n"
        "      <-- KSTREAM-SOURCE-0000000000\n\n")


def test_a_table_filter_burns_the_store_index_without_materializing():
    # TopologyTest.kTableNonMaterializedFilterShouldPreserveTopologyStructure
    b = ks.StreamsBuilder()
    b.table("input-topic").filter(lambda k, v: False)
    assert str(b.build().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])\n"
        "      --> KTABLE-SOURCE-0000000002\n"
        "    Processor: KTABLE-SOURCE-0000000002 (stores: [])\n"
        "      --> KTABLE-FILTER-0000000003\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: KTABLE-FILTER-0000000003 (stores: [])\n"
        "      --> none\n"
        "      <-- KTABLE-SOURCE-0000000002\n\n")


def test_to_table_to_stream_names():
    # KStreamImplTest.shouldNotMaterializedKTableFromKStream
    b = ks.StreamsBuilder()
    b.stream("input").to_table().to_stream().to("output")
    assert str(b.build().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
        "      --> KSTREAM-TOTABLE-0000000001\n"
        "    Processor: KSTREAM-TOTABLE-0000000001 (stores: [])\n"
        "      --> KTABLE-TOSTREAM-0000000003\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: KTABLE-TOSTREAM-0000000003 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000004\n"
        "      <-- KSTREAM-TOTABLE-0000000001\n"
        "    Sink: KSTREAM-SINK-0000000004 (topic: output)\n"
        "      <-- KTABLE-TOSTREAM-0000000003\n\n")


def test_merges_order_nodes_by_subtree_size():
    # StreamsGraphTest.shouldOptimizeSeveralMergeNodesWithCommonKeyChangingParent (no repartition: same as unoptimized)
    b = ks.StreamsBuilder()
    parent = b.stream("input_topic").select_key(lambda k, v: k + v)
    c1, c2, c3 = (parent.map_values(lambda v, i=i: v + i) for i in (1, 2, 3))
    c1.merge(c2).merge(c3).to("output_topic")
    assert str(b.build().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input_topic])\n"
        "      --> KSTREAM-KEY-SELECT-0000000001\n"
        "    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n"
        "      --> KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003, KSTREAM-MAPVALUES-0000000004\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])\n"
        "      --> KSTREAM-MERGE-0000000005\n"
        "      <-- KSTREAM-KEY-SELECT-0000000001\n"
        "    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])\n"
        "      --> KSTREAM-MERGE-0000000005\n"
        "      <-- KSTREAM-KEY-SELECT-0000000001\n"
        "    Processor: KSTREAM-MAPVALUES-0000000004 (stores: [])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-KEY-SELECT-0000000001\n"
        "    Processor: KSTREAM-MERGE-0000000005 (stores: [])\n"
        "      --> KSTREAM-MERGE-0000000006\n"
        "      <-- KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003\n"
        "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000007\n"
        "      <-- KSTREAM-MERGE-0000000005, KSTREAM-MAPVALUES-0000000004\n"
        "    Sink: KSTREAM-SINK-0000000007 (topic: output_topic)\n"
        "      <-- KSTREAM-MERGE-0000000006\n\n")


def test_group_by_count_splits_at_the_repartition_topic():
    # the naming of StreamsGraphTest's expectedComplexMergeOptimizeTopology: store 2, aggregate 3, sink 4, filter 5,
    # source 6, and the repartition topic named after the store
    b = ks.StreamsBuilder()
    b.stream("input").group_by(lambda k, v: v).count().to_stream().to("output")
    topology = b.build()
    text = str(topology.describe())
    assert "    Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition)\n" \
           "      <-- KSTREAM-FILTER-0000000005\n\n  Sub-topology: 1\n" \
           "    Source: KSTREAM-SOURCE-0000000006 (topics: [KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition])\n" \
           "      --> KSTREAM-AGGREGATE-0000000003\n" in text
    topics = {t.name: (t.kind, t.subtopology, dict(t.config)) for t in topology.internal_topics("app")}
    assert topics == {
        "app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition": ("repartition", 1,
                                                                     {"cleanup.policy": "delete", "retention.ms": "-1"}),
        "app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog": ("changelog", 1, {"cleanup.policy": "compact"})}


def test_processor_api_topology_and_its_errors():
    t = ks.Topology()
    t.add_source("src", "in").add_processor("p", ks.Processor, "src").add_state_store("s", "p")
    t.add_sink("out", "result", "p")
    assert str(t.describe()) == (
        "Topologies:\n   Sub-topology: 0\n"
        "    Source: src (topics: [in])\n      --> p\n"
        "    Processor: p (stores: [s])\n      --> out\n      <-- src\n"
        "    Sink: out (topic: result)\n      <-- p\n\n")
    with pytest.raises(ks.TopologyException, match=r"^Invalid topology: Processor p is already added\.$"):
        t.add_processor("p", ks.Processor, "src")
    with pytest.raises(ks.TopologyException, match="Parent processor nope is not added yet for q"):
        t.add_processor("q", ks.Processor, "nope")
    with pytest.raises(ks.TopologyException, match="Topic in has already been registered by another source"):
        t.add_source("src2", "in")
    with pytest.raises(ks.TopologyException, match="StateStore missing is not added yet"):
        t.connect_processor_and_state_stores("p", "missing")


def test_unknown_store_in_process_names_the_known_ones():
    b = ks.StreamsBuilder()
    b.add_state_store("counts")
    with pytest.raises(ks.TopologyException, match=r"StateStore count is not added yet \(stores: counts\)"):
        b.stream("in").process(ks.Processor, "count")


def test_bad_serde_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"unknown value_serde 'strng'.*did you mean 'string'\?"):
        ks.StreamsBuilder().stream("in", value_serde="strng")
    with pytest.raises(TypeError, match="key_serde must be a serde name"):
        ks.StreamsBuilder().stream("in", key_serde=42)


def test_the_description_as_a_graph_links_topics_nodes_and_stores():
    b = ks.StreamsBuilder()
    b.stream("lines").flat_map_values(str.split).group_by(lambda k, w: w).count(materialized="counts") \
        .to_stream().to("counts-out")
    g = b.build().describe().to_networkx()
    kinds = {n: d["kind"] for n, d in g.nodes(data=True)}
    assert kinds["topic:lines"] == "topic" and kinds["store:counts"] == "store"
    assert kinds["topic:counts-repartition"] == "topic"           # where sub-topology 0 ends and 1 begins
    assert g.has_edge("topic:lines", "KSTREAM-SOURCE-0000000000")
    assert g.has_edge("KSTREAM-SINK-0000000008", "topic:counts-out")
    import networkx as nx
    assert nx.has_path(g, "topic:lines", "topic:counts-out") and nx.is_directed_acyclic_graph(g)
