"""The order state machine on its own: random request sequences never reach a state the
declaration does not allow, and fulfilment-only moves stay with their fulfilment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import Conflict
from app.pharmacy.delivery.states import FULFILMENT_ONLY, ORDER_MACHINE, OrderStatus, allowed

FINAL = {OrderStatus.completed, OrderStatus.cancelled, OrderStatus.returned}


def _path_exists(fulfilment: str, target: OrderStatus) -> bool:
    seen, frontier = {OrderStatus.created}, [OrderStatus.created]
    while frontier:
        source = frontier.pop()
        for candidate in OrderStatus:
            if candidate not in seen and allowed(source, candidate, fulfilment):
                seen.add(candidate)
                frontier.append(candidate)
    return target in seen


@given(
    st.sampled_from(["delivery", "pickup"]),
    st.lists(st.sampled_from(list(OrderStatus)), max_size=50),
)
def test_random_requests_only_follow_declared_moves(fulfilment: str, requests: list) -> None:
    state = ORDER_MACHINE.initial
    for target in requests:
        if allowed(state, target, fulfilment):
            state = target
        else:
            with pytest.raises(Conflict) as refused:
                ORDER_MACHINE.refuse(state, target)
            assert refused.value.code == "illegal_transition"
        assert _path_exists(fulfilment, state)
    if ORDER_MACHINE.is_terminal(state):
        assert state in FINAL


def test_final_states_are_final_and_everything_is_reachable() -> None:
    assert {s for s in OrderStatus if ORDER_MACHINE.is_terminal(s)} == FINAL
    assert ORDER_MACHINE.reachable() == set(OrderStatus)


def test_pickup_never_goes_out_with_a_courier_and_delivery_never_skips_one() -> None:
    assert not _path_exists("pickup", OrderStatus.dispatched)
    assert not allowed(OrderStatus.picked, OrderStatus.delivered, "delivery")
    assert all(ORDER_MACHINE.allows(*move) for move in FULFILMENT_ONLY)


def test_boxes_once_picked_cannot_be_cancelled() -> None:
    for state in (OrderStatus.picked, OrderStatus.dispatched, OrderStatus.delivered):
        assert not ORDER_MACHINE.allows(state, OrderStatus.cancelled)
