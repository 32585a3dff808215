"""The store board: a page of orders costs the same number of queries however many it holds."""

from __future__ import annotations

from sqlalchemy import event

from tests.prescription.world import World, dispatched, item, ok, ordered, rx_body


async def _board_queries(client, world: World, engine) -> tuple[int, list[dict]]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        board = await ok(await client.get("/api/v1/orders", headers=world.as_("pharmacist")))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return len(statements), board["items"]


async def test_the_board_does_not_query_per_order(client, world: World, engine) -> None:
    await dispatched(client, world, await ordered(client, world))
    one, board = await _board_queries(client, world, engine)
    assert len(board) == 1
    acarbose = rx_body(world, item(world.drugs.acarbose))
    await dispatched(client, world, await ordered(client, world, acarbose))
    await ordered(client, world, rx_body(world, item(world.drugs.glargine)))
    three, board = await _board_queries(client, world, engine)
    assert len(board) == 3 and three == one
    # Each order still carries its own lines, boxes, history and courier.
    for order in board:
        assert order["lines"] and order["history"]
        if order["status"] == "dispatched":
            assert order["courier"] is not None
            assert len(order["traceability_codes"]) == sum(x["packs"] for x in order["lines"])
