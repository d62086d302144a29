"""bench/profile.py's summary: what is waiting and what is work, by the leaf frame."""

import pytest

from bench import profile

pytestmark = pytest.mark.unit

ROOT = "Worker.execute_from_commandline (mode/worker.py:264)"


def test_a_thread_blocked_in_poll_waits_and_its_delivery_callbacks_count_as_work(tmp_path):
    folded = tmp_path / "w.folded"
    folded.write_text(
        "\n".join(
            [
                f"main;{ROOT};EpollSelector.select (selectors.py:468) 10",
                "poll;PolledProducer._poll (bazaar_core/kafka/writer.py:65) 5",  # blocked in librdkafka's poll
                "poll;PolledProducer._poll (bazaar_core/kafka/writer.py:65);"
                "Outbox._on_changelog.<locals>.done (bazaar_core/kafka/outbox.py:125) 3",
                f"main;{ROOT};BatchStates.flush (streams/state.py:457) 2",
            ]
        )
        + "\n"
    )
    summary = profile.summarize(folded, 100.0)
    assert summary["samples"] == 20 and summary["waiting_samples"] == 15
    shares = {c["frame"]: c["share"] for c in summary["categories"] if c["share"]}
    assert shares == {
        "outputs: records to librdkafka, waiting for acks": 0.6,
        "state write: encode + RocksDB write batch + changelog records": 0.4,
    }
    assert {c["frame"]: c["cpu_us_per_event"] for c in summary["categories"] if c["share"]}[
        "outputs: records to librdkafka, waiting for acks"
    ] == 60.0
