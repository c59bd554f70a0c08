"""The gate in front of a channel's connections: never more holders than its capacity, and a
freed slot goes to a waiting urgent send before the bulk sends that came earlier."""

from __future__ import annotations

import asyncio

import pytest

from broadcast.core.priority_gate import PriorityGate


async def _hold(gate: PriorityGate, name: str, urgent: bool, order: list[str]) -> None:
    async with gate.slot(urgent):
        order.append(name)
        await asyncio.sleep(0.001)


async def test_a_waiting_urgent_holder_goes_before_earlier_bulk_ones() -> None:
    gate, order = PriorityGate(1), []
    release = asyncio.Event()

    async def first() -> None:
        async with gate.slot(urgent=False):
            order.append("first")
            await release.wait()

    tasks = [asyncio.ensure_future(first())]
    await asyncio.sleep(0)
    tasks += [asyncio.ensure_future(_hold(gate, f"bulk-{n}", False, order)) for n in range(3)]
    await asyncio.sleep(0)
    tasks += [asyncio.ensure_future(_hold(gate, f"urgent-{n}", True, order)) for n in range(2)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "urgent-0", "urgent-1", "bulk-0", "bulk-1", "bulk-2"]


async def test_never_more_holders_than_the_capacity() -> None:
    gate, inside, most = PriorityGate(3), 0, 0

    async def hold(urgent: bool) -> None:
        nonlocal inside, most
        async with gate.slot(urgent):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(hold(n % 4 == 0) for n in range(50)))
    assert most == 3


async def test_a_cancelled_waiter_neither_takes_nor_loses_a_slot() -> None:
    gate, order = PriorityGate(1), []
    release = asyncio.Event()

    async def first() -> None:
        async with gate.slot(urgent=False):
            await release.wait()

    holder = asyncio.ensure_future(first())
    await asyncio.sleep(0)
    cancelled = asyncio.ensure_future(_hold(gate, "cancelled", True, order))
    after = asyncio.ensure_future(_hold(gate, "after", False, order))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.gather(holder, after)
    assert order == ["after"]
    # the slot came back: two holders in a row get it at once
    await asyncio.wait_for(asyncio.gather(*(_hold(gate, "x", False, order) for _ in range(2))), 1)
    with pytest.raises(asyncio.CancelledError):
        await cancelled


def test_a_gate_needs_room_for_one() -> None:
    with pytest.raises(ValueError):
        PriorityGate(0)
