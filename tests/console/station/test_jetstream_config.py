"""A county worker's station.yaml `nats:` section and the subjects of its stream (the cluster
itself: tests/system/test_nats_station.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from console.station.config import NatsInbound
from console.station.jetstream import CONSUMED, stream_config, topic_of
from hub.common import wire


def test_take_names_distinct_partitions_of_the_split() -> None:
    assert NatsInbound(servers=["n1"], partitions=4).taken == [0, 1, 2, 3]
    assert NatsInbound(servers=["n1"], partitions=4, take=[3, 1]).taken == [1, 3]
    for take in ([], [4], [-1], [1, 1]):
        with pytest.raises(ValidationError, match="take: distinct partitions from 0 to 3"):
            NatsInbound(servers=["n1"], partitions=4, take=take)
    with pytest.raises(ValidationError):
        NatsInbound(servers=["n1:99999"])


def test_a_lease_outlasts_a_fetch_and_its_renewals() -> None:
    assert NatsInbound(servers=["n1"]).lease_s == 10
    assert NatsInbound(servers=["n1"], lease_s=4).lease_s == 4
    for lease_s in (3.9, 0, -1, 301):
        with pytest.raises(ValidationError, match=r"lease_s\n.*from 4 to 300 seconds: a worker "
                           "stops pulling 2 s before its lease could lapse"):
            NatsInbound(servers=["n1"], lease_s=lease_s)


def test_a_stored_subject_is_its_mqtt_topic_again() -> None:
    assert topic_of("anxin.in.3.hub.h001.event") == wire.hub_topic("h001", "event")
    assert topic_of("anxin.in.0.station.request.console:desk1") == \
        f"{wire.REQUEST_PREFIX}console:desk1"
    assert wire.request_console(topic_of("anxin.in.0.station.request.console:desk1")) \
        == "console:desk1"


def test_the_stream_covers_what_the_station_subscribes_to_and_splits_by_hub() -> None:
    cfg = stream_config(NatsInbound(servers=["n1"], partitions=16, replicas=3))
    assert cfg.subjects == list(CONSUMED.values())
    assert cfg.num_replicas == 3 and cfg.retention == "workqueue"
    assert cfg.subject_transform is not None
    assert "{{partition(16,2)}}" in (cfg.subject_transform.dest or "")
