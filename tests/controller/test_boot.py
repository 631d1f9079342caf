"""Story: a cluster boots. The quorum elects an active controller, brokers register, catch up, are unfenced."""
from kafkalab.metadata.records import RegisterBrokerRecord
from tests.controller.harness import BROKERS, CONTROLLERS, ControlPlane


def test_boot_elects_an_active_controller_and_unfences_every_broker() -> None:
    cp = ControlPlane(seed=0)
    cp.boot(timeout_ms=10_000)
    # KRaft elects within a couple of election timeouts (1000 ms + random[0, 1000)); registration and catch-up take
    # a few round trips more.
    assert 500 < cp.now < 5_000
    assert cp.active_controller() in CONTROLLERS
    image = cp.image()
    assert sorted(image.brokers) == list(BROKERS)
    for b in BROKERS:
        reg = image.brokers[b]
        assert not reg.fenced
        life = cp.broker(b).lifecycle
        assert life.broker_epoch == reg.broker_epoch
        assert life.state.value == "RUNNING"
        assert life.registered_at_ms is not None and life.unfenced_at_ms is not None
        assert life.unfenced_at_ms - life.registered_at_ms < 500


def test_broker_epoch_is_the_offset_of_its_registration_record() -> None:
    cp = ControlPlane(seed=3)
    cp.boot()
    log = cp.active().replica.node.log
    by_offset = {}
    for batch in log.read(0):
        for offset, record in zip(batch.offsets(), batch.records, strict=True):
            by_offset[offset] = record.value
    for b in BROKERS:
        epoch = cp.image().brokers[b].broker_epoch
        record = by_offset[epoch]
        assert isinstance(record, RegisterBrokerRecord) and record.broker_id == b
