"""The access matrix: every endpoint x every role x someone else's ids.

Each domain declares its routes in `tests/access/policy_<domain>.py`:

    POLICY = {("GET", "/api/v1/things/{thing_id}"): Rule(ALL, hidden=True), ...}
    async def foreign_ids(session) -> dict[str, str]: ...  # ids owned by someone else

`Rule(roles)` names the roles that may call the route; every other signed-in role must get 403
(or 404), anonymous callers 401. `hidden=True` means the ids in the path belong to someone else,
so even an allowed role must get 404 (no leak, no probing), except the roles in `sees_all`
(they manage every row of the kind, as admins manage every care team). `body=` is sent instead
of `{}` where the scope check sits behind body validation. PUBLIC routes need no sign-in.

The websocket's client frames have their own matrix, test_socket_matrix.py.
"""
