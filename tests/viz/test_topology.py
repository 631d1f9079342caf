"""The topology drawing reflects the cluster: roles, leadership, ISR, crashed nodes and cut links."""
from matplotlib.figure import Figure

from kafkalab.viz.topology import PartitionView, TopologyView, draw_topology, topology_graph


def view():
    return TopologyView(
        controllers=[1000, 1001, 1002], brokers=[1, 2, 3], clients=["producer-1"], active_controller=1001,
        down=[3], cuts=[(1, 2), (2, 1)],
        partitions=[PartitionView("t", 0, 1, (1, 2, 3), (1, 2)), PartitionView("t", 1, 2, (2, 3, 1), (2, 1))])


def test_graph_attributes_describe_leadership_isr_and_faults():
    g = topology_graph(view())
    assert g.nodes[1001]["active"] and not g.nodes[1000]["active"]
    assert g.nodes[1]["leads"] == ["t-0"] and g.nodes[1]["follows"] == ["t-1"]
    assert g.nodes[3]["out_of_isr"] == ["t-0", "t-1"] and not g.nodes[3]["alive"]
    assert g.edges[1, 2]["cut"] and not g.edges[1, 3]["cut"]
    assert g.has_edge("producer-1", 2) and not g.has_edge("producer-1", 1000)
    assert g.number_of_nodes() == 7


def test_draw_returns_a_figure_with_one_axes_and_is_repeatable():
    fig = draw_topology(view(), title="t at 5 s")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_title() == "t at 5 s"
    again = draw_topology(view(), fig=fig)
    assert again is fig and len(fig.axes) == 1
