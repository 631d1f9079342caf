"""Same seed and config => the same event trace, in this process and in others with another PYTHONHASHSEED."""
import os
import subprocess
import sys

from kafkalab.sim import LinkSpec, Nemesis, Tracer, World


class Gossip:
    """Each node forwards a token to a peer drawn from its own random stream; string ids exercise hashing."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.seen = 0
        ctx.set_timer(ctx.rng("start").uniform(0, 5), self.kick, name="kick")

    def kick(self):
        self.forward(("token", self.ctx.node_id, 0))

    def forward(self, msg):
        peers = sorted(n for n in self.ctx.world.nodes if n != self.ctx.node_id)
        self.ctx.send(self.ctx.rng("peer").choice(peers), msg, size_bytes=200 + 10 * msg[2])

    def on_message(self, src, msg):
        self.seen += 1
        self.ctx.disk.write("seen", self.seen)
        if msg[2] < 500:
            self.forward((msg[0], msg[1], msg[2] + 1))


def scenario_digest(seed: int) -> str:
    world = World(seed=seed, network=LinkSpec(latency_ms=1.0, jitter_ms=2.0, loss=0.01), trace_messages=True)
    tracer = Tracer(world.kernel)
    names = [f"broker-{c}" for c in "abcde"]
    for n in names:
        world.add_node(n, Gossip)
    Nemesis(world).random(20_000, names)
    world.run(20_000)
    return f"{tracer.digest()} {tracer.count}"


def test_same_seed_same_trace_in_process():
    assert scenario_digest(11) == scenario_digest(11)


def test_different_seeds_differ():
    assert scenario_digest(11) != scenario_digest(12)


def test_same_trace_across_processes_with_different_hash_seeds():
    code = "import tests.sim.test_determinism as t; print(t.scenario_digest(11))"
    outputs = []
    for hash_seed in ("1", "987654"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        outputs.append(out.stdout.strip())
    assert outputs[0] == outputs[1] == scenario_digest(11)
    assert int(outputs[0].split()[1]) > 500   # the trace is not trivially short
