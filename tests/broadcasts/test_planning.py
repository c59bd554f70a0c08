"""Pure parts of the pipeline: batching planned deliveries, retry delays."""

from __future__ import annotations

from broadcast.broadcasts.planner import group_into_batches
from broadcast.deliveries.dispatch import GROUP_SIZE, RetryPolicy, group_size
from broadcast.jobs import DispatchBatch
from broadcast.ratelimit import RateLimit


def test_batches_hold_one_channel_and_a_bounded_number_of_ids() -> None:
    rows = [(1, "email"), (2, "sms"), (3, "email"), (4, "email"), (5, "sms"), (6, "email")]
    assert group_into_batches(9, rows, batch_size=2) == [
        DispatchBatch(9, "email", 1, 3),
        DispatchBatch(9, "sms", 2, 5),
        DispatchBatch(9, "email", 4, 6),
    ]


def test_retry_delay_grows_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(base_delay_s=5, max_delay_s=60, deadline_s=3600)
    for attempt, ceiling in ((1, 5), (2, 10), (3, 20), (8, 60)):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_groups_never_exceed_a_bucket_burst() -> None:
    assert group_size([]) == GROUP_SIZE
    assert group_size([("channel:email", RateLimit(rate=10, burst=8))]) == 8
