"""The errors each operation can answer, found in the code that answers it (never a hand list).

At OpenAPI generation the endpoint of every route and every dependency FastAPI calls for it
(`Depends`, the role guards, the session) are read with `ast`, and the walk follows the app's
own functions they reach. What it collects:

- `raise SomeError(<literal code>, ...)`, and `SomeError(<literal code>)` built anywhere (errors
  are built to be raised), where `SomeError` is an `AppError` subclass: the class's `status`,
  and the literal code (both branches of `"a" if ... else "b"`; a parameter of the function,
  bound to the literals its callers pass), or the class's own `code` when none is given;
- `raise SomeError` (the class itself): its `status` and `code`.

What it follows, resolving names against the running module's globals (so imports, aliases
and module-level instances resolve as Python resolves them):

- functions and methods named by module (`orders.create_order`), by imported name, by class
  (`Store.find`), on a module-level instance (`MACHINE.check`), on `self`/`cls`, on a
  parameter annotated with an app class, or on a local every binding of which gives it one
  app class (`name: Store = ...`, `name = Store(...)`, `name = [await] f(...)` where `f`'s
  return annotation names the class, e.g. an accessor of an object kept in `app.state`);
  a function merely referenced (passed as a callback) is followed as if called;
- a domain event recorded (`events.record(session, SomeEvent(...))`): the subscribers
  app/wiring.py runs in the recording transaction (their errors fail the request; those run
  after commit never reach the caller);
- a method of a `Protocol`: the same method of every app class declared to implement it
  (subclassing the Protocol, which mypy checks), e.g. the insurance platform's client;
- `SomeAppClass(...)`: its `__init__`, when the class defines one.

Only functions of the `app` package are read; the walk is cached per function and stops
`MAX_DEPTH` calls deep. It cannot see, and so documents nothing for (the `default` Problem
covers these):

- calls on values whose class it cannot tell (an unannotated value, an item of a list, a dict
  of handlers, `getattr`, a bare `request.app.state.x`, a structural implementation of a
  Protocol that does not declare it), and handlers run by a registry other than the domain
  events (outbox jobs, websocket handlers) unless also referenced by the code it walks;
- a code computed at run time (`Conflict(f"signing_key_{status}")`, a code read from data):
  the status is still documented, with `dynamic` set;
- errors of middleware (413 `payload_too_large` of the body limit, handled before routing) and of
  the generic handlers (422 `validation_failed`, 409 `concurrent_update`), declared elsewhere.

It over-approximates where code is conditional: an error raised on a branch the route never
takes (or caught by a caller), or one built and reported rather than raised (the staff
checks, which the spreadsheet import reports per row), is still listed.
"""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from app import events
from app.errors import AppError

MAX_DEPTH = 16
_PACKAGE = "app."


class Parameter(NamedTuple):
    """A code passed in by the caller: the function's parameter that holds it."""

    name: str


@dataclass
class Raised:
    """The errors a function can raise: codes by status, statuses whose codes are computed at
    run time, and statuses whose code is one of the function's parameters (bound to the
    literals its callers pass)."""

    codes: dict[int, set[str]] = field(default_factory=dict)
    dynamic: set[int] = field(default_factory=set)
    parametric: set[tuple[int, str]] = field(default_factory=set)

    def add(self, status: int, code: str | Parameter | None) -> None:
        self.codes.setdefault(status, set())
        if code is None:
            self.dynamic.add(status)
        elif isinstance(code, Parameter):
            self.parametric.add((status, code.name))
        else:
            self.codes[status].add(code)

    def merge(self, other: Raised) -> None:
        """Add what `other` raises; its parametric codes are the caller's to bind."""
        for status, codes in other.codes.items():
            self.codes.setdefault(status, set()).update(codes)
        self.dynamic |= other.dynamic


def _functions_by_line(filename: str) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
    """A module's function definitions by the line their code object starts on (the `def`
    line, or the first decorator's)."""
    try:
        with open(filename, encoding="utf-8") as source:
            tree = ast.parse(source.read(), filename)
    except OSError:  # code made at run time (a dataclass's __init__): no source to read
        return {}
    found: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    # Statements only (functions are defined by statements): expressions are most of a tree.
    statements: list[ast.stmt] = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.lineno] = node
            for decorator in node.decorator_list:
                found.setdefault(decorator.lineno, node)
        for name in ("body", "orelse", "finalbody"):
            statements.extend(getattr(node, name, ()))
        for clause in [*getattr(node, "handlers", ()), *getattr(node, "cases", ())]:
            statements.extend(clause.body)
    return found


def _app_function(value: Any) -> types.FunctionType | None:
    """The plain function of the app package behind `value`, if it is one."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, types.MethodType):
        value = value.__func__
    try:
        value = inspect.unwrap(value)
    except ValueError:
        return None
    if isinstance(value, types.FunctionType) and value.__module__.startswith(_PACKAGE):
        return value
    return None


def _is_app_error(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, AppError)


def _owner_class(function: types.FunctionType) -> type | None:
    """The class a method is defined in, from its qualified name."""
    owner: Any = None
    parts = function.__qualname__.split(".")[:-1]
    if not parts or "<locals>" in parts:
        return None
    owner = function.__globals__.get(parts[0])
    for part in parts[1:]:
        owner = inspect.getattr_static(owner, part, None)
    return owner if isinstance(owner, type) else None


class _Names:
    """How names resolve in one module: its globals, as Python resolves them."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.globals = namespace
        self.locals: dict[str, Any] = {}

    def annotation(self, node: ast.expr | None) -> type | None:
        """The app class an annotation names (`Store`, `Store | None`, `"Store"`)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.annotation(node.left) or self.annotation(node.right)
        value = self.resolve(node) if node is not None else None
        if isinstance(value, type) and value.__module__.startswith(_PACKAGE):
            return value
        return None

    def resolve(self, node: ast.expr) -> Any:
        """The object an expression names, without running anything (None when unknown)."""
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return self.locals[node.id]
            return self.globals.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value)
            if owner is None:
                return None
            try:
                return inspect.getattr_static(owner, node.attr, None)
            except Exception:  # an object whose attributes cannot be read statically
                return None
        return None


def _returned(function: types.FunctionType) -> type | None:
    """The app class a function's return annotation names (what awaiting a coroutine gives)."""
    annotation = function.__annotations__.get("return")
    if isinstance(annotation, str):
        try:
            node: ast.expr = ast.parse(annotation, mode="eval").body
        except SyntaxError:
            return None
        return _Names(function.__globals__).annotation(node)
    if isinstance(annotation, type) and annotation.__module__.startswith(_PACKAGE):
        return annotation
    return None


class _Scope(_Names):
    """How names in one function's body resolve: its module's globals, `self`/`cls`, its
    parameters annotated with a class, and its locals whose every binding is typed (annotated,
    or the result of an app function whose return annotation names a class)."""

    def __init__(
        self, function: types.FunctionType, node: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> None:
        super().__init__(function.__globals__)
        owner = _owner_class(function)
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        self.parameters = frozenset(argument.arg for argument in arguments)
        for position, argument in enumerate(arguments):
            if position == 0 and owner is not None and argument.arg in ("self", "cls"):
                self.locals[argument.arg] = owner
                continue
            annotated = self.annotation(argument.annotation)
            if annotated is not None:
                self.locals[argument.arg] = annotated
        self._type_locals(node)

    def _type_locals(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Type the locals bound only by `name = f(...)`, `name = await f(...)`,
        `name = Class(...)` or `name: Class = ...`, all to one class; read in source order,
        so a local typed from another resolves. A name also bound any other way (a loop,
        `with ... as`, unpacking) stays unknown; parameters keep their annotation."""
        bindings: dict[str, set[type | None]] = {}
        typed: set[int] = set()  # the Name nodes bound by the statements read here
        statements = sorted(
            (n for n in ast.walk(node) if isinstance(n, ast.Assign | ast.AnnAssign)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for statement in statements:
            target: ast.expr
            if isinstance(statement, ast.AnnAssign):
                target, found = statement.target, self.annotation(statement.annotation)
            elif len(statement.targets) == 1:
                target, found = statement.targets[0], self._result(statement.value)
            else:
                continue
            if not isinstance(target, ast.Name) or target.id in self.parameters:
                continue
            if _is_app_error(found):
                found = None  # an error held in a local: `raise name` is not its class's code
            typed.add(id(target))
            bindings.setdefault(target.id, set()).add(found)
            if bindings[target.id] == {found} and found is not None:
                self.locals[target.id] = found
            else:
                self.locals.pop(target.id, None)
        for child in ast.walk(node):
            if (
                isinstance(child, ast.Name)
                and isinstance(child.ctx, ast.Store)
                and id(child) not in typed
                and child.id in bindings
            ):
                self.locals.pop(child.id, None)

    def _result(self, value: ast.expr) -> type | None:
        """The app class a value is an instance of: an app class built, or what an app
        function returns by its return annotation (awaited, for a coroutine)."""
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            return None
        called = self.resolve(value.func)
        if isinstance(called, type):
            return called if called.__module__.startswith(_PACKAGE) else None
        function = _app_function(called)
        return None if function is None else _returned(function)


def _codes(argument: ast.expr, parameters: frozenset[str]) -> Iterator[str | Parameter | None]:
    """The codes an argument can be: literals, both branches of a conditional, a parameter of
    the function; else None (computed at run time)."""
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        yield argument.value
    elif isinstance(argument, ast.IfExp):
        yield from _codes(argument.body, parameters)
        yield from _codes(argument.orelse, parameters)
    elif isinstance(argument, ast.Name) and argument.id in parameters:
        yield Parameter(argument.id)
    else:
        yield None


def _argument(function: types.FunctionType, call: ast.Call, name: str) -> ast.expr | None:
    """The expression a call passes for `function`'s parameter `name` (None if not given).
    A method called on an object or a class (`self.f(x)`, `Class(x)`) is not passed `self`."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    code = function.__code__
    positional = list(code.co_varnames[: code.co_argcount])
    if positional and positional[0] in ("self", "cls"):
        positional.pop(0)
    if name not in positional:
        return None
    position = positional.index(name)
    if position < len(call.args) and not any(
        isinstance(argument, ast.Starred) for argument in call.args[: position + 1]
    ):
        return call.args[position]
    return None


def _constructed(
    error: type[AppError], call: ast.Call, parameters: frozenset[str]
) -> Iterator[tuple[int, str | Parameter | None]]:
    """The (status, code) pairs of `error(...)` as written at a call. A class whose own
    `__init__` takes no `code` (e.g. `PlatformRefused(infcode, message)`) answers its class
    code whatever it is given."""
    init = next(c.__dict__["__init__"] for c in error.__mro__ if "__init__" in c.__dict__)
    takes = init.__code__.co_varnames[
        1 : init.__code__.co_argcount + init.__code__.co_kwonlyargcount
    ]
    given = call.args[0] if call.args and takes[:1] == ("code",) else None
    for keyword in call.keywords:
        if keyword.arg == "code" and "code" in takes:
            given = keyword.value
    if isinstance(given, ast.Constant) and given.value is None:
        given = None
    if given is None:
        yield error.status, error.code
        return
    for code in _codes(given, parameters):
        if code is None and error.codes:  # chosen at run time among those the class declares
            yield from ((error.status, one) for one in error.codes)
        else:
            yield error.status, code


def _callee(value: Any) -> types.FunctionType | None:
    """The app function run by calling `value` (a function, a method, an app class's
    `__init__`, a callable instance's `__call__`); None for anything else."""
    if _is_app_error(value):
        return None
    if isinstance(value, type):
        if not value.__module__.startswith(_PACKAGE):
            return None
        value = value.__dict__.get("__init__")
    elif not inspect.isroutine(value) and callable(value):
        # A callable instance (e.g. a dependency class's object): its `__call__`.
        value = inspect.getattr_static(type(value), "__call__", None)
    return _app_function(value)


def _callees(value: Any) -> list[types.FunctionType]:
    """The app functions that calling `value` can run: its function, or for a method of a
    Protocol, the same method of every app class declared to implement it (by subclassing
    the Protocol, so mypy checks the claim)."""
    function = _callee(value)
    if function is None:
        return []
    owner = _owner_class(function)
    if owner is None or Protocol not in owner.__bases__:
        return [function]
    found: list[types.FunctionType] = []
    pending: list[type] = owner.__subclasses__()
    while pending:
        implementation = pending.pop()
        pending.extend(implementation.__subclasses__())
        if Protocol in implementation.__bases__:
            continue  # a Protocol extending this one: its own implementations are found here
        method = _app_function(inspect.getattr_static(implementation, function.__name__, None))
        if method is not None and method is not function and method not in found:
            found.append(method)
    return found


def _in_transaction_subscribers(call: ast.Call, scope: _Scope) -> list[types.FunctionType]:
    """The app functions subscribed to run in the transaction of the event `call` records
    (`events.record(session, SomeEvent(...))`); none when the event's class is not written
    there."""
    if len(call.args) < 2 or not isinstance(call.args[1], ast.Call):
        return []
    event_type = scope.resolve(call.args[1].func)
    if not isinstance(event_type, type):
        return []
    in_transaction, _after_commit = events.dispatcher.subscribers(event_type)
    return [f for subscriber in in_transaction for f in _callees(subscriber)]


class ErrorWalk:
    """Walks functions for the AppErrors they can raise; one instance caches its results."""

    def __init__(self) -> None:
        self._done: dict[types.FunctionType, Raised] = {}
        self._open: set[types.FunctionType] = set()
        self._modules: dict[str, dict[int, ast.FunctionDef | ast.AsyncFunctionDef]] = {}

    def of_route(self, calls: Iterable[Callable[..., Any] | None]) -> Raised:
        """The errors of an endpoint and its dependencies' callables."""
        raised = Raised()
        for call in calls:
            for function in _callees(call):
                found = self._function(function, 0)
                raised.merge(found)
                for status, _ in found.parametric:
                    raised.add(status, None)  # from the request itself
        return raised

    def _function(self, function: types.FunctionType, depth: int) -> Raised:
        known = self._done.get(function)
        if known is not None:
            return known
        raised = Raised()
        if depth >= MAX_DEPTH or function in self._open:
            return raised  # not cached: a shallower or later visit reads it whole
        filename = function.__code__.co_filename
        if filename not in self._modules:
            self._modules[filename] = _functions_by_line(filename)
        node = self._modules[filename].get(function.__code__.co_firstlineno)
        if node is None:
            return raised
        self._open.add(function)
        try:
            self._read(function, node, raised, depth)
        finally:
            self._open.discard(function)
        self._done[function] = raised
        return raised

    def _read(
        self,
        function: types.FunctionType,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        raised: Raised,
        depth: int,
    ) -> None:
        scope = _Scope(function, node)
        called: set[int] = set()  # the callee expressions whose parametric codes are bound
        for child in ast.walk(node):
            if child is node:
                continue
            if isinstance(child, ast.Call):
                target = scope.resolve(child.func)
                if target is events.record:
                    for subscriber in _in_transaction_subscribers(child, scope):
                        raised.merge(self._function(subscriber, depth + 1))
                if _is_app_error(target):
                    for status, code in _constructed(target, child, scope.parameters):
                        raised.add(status, code)
                else:
                    for callee in _callees(target):
                        called.add(id(child.func))
                        found = self._function(callee, depth + 1)
                        raised.merge(found)
                        for status, name in found.parametric:
                            given = _argument(callee, child, name)
                            codes = [None] if given is None else _codes(given, scope.parameters)
                            for code in codes:
                                raised.add(status, code)
            elif isinstance(child, ast.Raise) and child.exc is not None:
                target = scope.resolve(child.exc)
                if _is_app_error(target):
                    raised.add(target.status, target.code)
            if (
                isinstance(child, ast.Name | ast.Attribute)
                and isinstance(child.ctx, ast.Load)
                and id(child) not in called
            ):
                # A function referenced, not called here (a callback): followed as if called.
                target = scope.resolve(child)
                if target is not None and not isinstance(target, types.ModuleType):
                    for callee in _callees(target):
                        found = self._function(callee, depth + 1)
                        raised.merge(found)
                        for status, _ in found.parametric:
                            raised.add(status, None)
