"""``expand[]`` (or ``expand[N]``) as Stripe has it, for references between served objects.

A path names a property, then (after an expanded object or an embedded list) a property of
that: ``customer``, ``invoice.subscription``, ``lines.data.subscription_item`` on a retrieve
and ``data.customer`` on a list; at most 4 levels. Accepted: every property Stripe's spec
marks expandable (``x-expansionResources``) on any object type, and the embedded lists the
sandbox renders (``lines.data``, ``items.data``, from the registry's child links). A reference
to an object the sandbox holds becomes that object (a deleted one as ``{"deleted": true,
...}``); a polymorphic one (``balance_transaction.source``) is resolved by its id.

Answered 400, as Stripe does: any other path ("This property cannot be expanded (path).");
paths through nested objects (``lines.data.price.product``); includable lists (customer
``sources``, charge ``refunds``); a set reference to a type the sandbox holds no objects of
("The sandbox cannot expand <path>: it holds no <type> objects.").

Expansion parses and re-serialises the response, so such pages are slower than plain ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import spec
from .errors import ApiError

if TYPE_CHECKING:
    from .world import World

MAX_DEPTH = 4
LIST = "list:"
ANY = "*"
"""A polymorphic reference: the type is read off the id when expanding."""

Fetch = Callable[[str, str], dict[str, Any]]
"""``fetch(object_type, id)`` -> that object (deleted ones as ``{"deleted": true, ...}``)."""


def expand_params(params: dict[str, str | list[str]]) -> list[str]:
    """Pop ``expand[]`` / ``expand[N]`` from the parameters; the paths in order."""
    out: list[str] = []
    for key in [
        k
        for k in params
        if k == "expand[]" or (k.startswith("expand[") and k.endswith("]") and k[7:-1].isdigit())
    ]:
        value = params.pop(key)
        out.extend(value if isinstance(value, list) else [value])
    return out


def _cannot(path: str, hint: str = "") -> ApiError:
    return ApiError(400, f"This property cannot be expanded ({path}).{hint}", param="expand")


def _embedded(w: World, typ: str) -> dict[str, str]:
    """Embedded lists the sandbox renders on objects of ``typ``: field -> item type."""
    table = w.tables.get(typ)
    if table is None or table.embed is None or not table.embed_field:
        return {}
    return {table.embed_field: table.embed.child.obj}


def _targets(w: World, typ: str, prop: str) -> tuple[str, ...]:
    """The held object types a property of ``typ`` may expand to."""
    return tuple(t for t in spec.expandable(typ).get(prop, ()) if t in w.tables)


def check(paths: list[str], root: str, w: World) -> list[list[str]]:
    """Validate paths against the object graph from ``root`` (an object type, or
    ``list:<type>`` for a list); returns them split into segments."""
    out = []
    for path in paths:
        segs = path.split(".")
        if not path or "" in segs:
            raise _cannot(path)
        if sum(1 for s in segs if s != "data") > MAX_DEPTH:
            raise ApiError(
                400,
                f"You cannot expand more than {MAX_DEPTH} levels of a property ({path}).",
                param="expand",
            )
        types: set[str] | None = {root}
        for i, seg in enumerate(segs):
            if not types:  # below a reference to a type the sandbox never holds
                break
            if all(t.startswith(LIST) for t in types):
                if seg != "data":
                    elem = next(iter(types))[len(LIST) :]
                    hint = (
                        f" You may want to try expanding 'data.{path}' instead."
                        if i == 0 and seg in spec.expandable(elem)
                        else ""
                    )
                    raise _cannot(path, hint)
                types = {t[len(LIST) :] for t in types}
                continue
            lists = {LIST + _embedded(w, t)[seg] for t in types if seg in _embedded(w, t)}
            if lists:
                types = lists
                continue
            if not any(seg in spec.expandable(t) for t in types):
                raise _cannot(path)
            types = {target for t in types for target in _targets(w, t, seg)}
        out.append(segs)
    return out


def expand(obj: dict[str, Any], paths: list[list[str]], root: str, fetch: Fetch, w: World) -> None:
    """Expand ``paths`` (from ``check``) in place."""
    for segs in paths:
        _walk(obj, segs, root, fetch, ".".join(segs), w)


def _type_of(w: World, candidates: tuple[str, ...], obj_id: str) -> str | None:
    for typ in candidates:
        if w.tables[typ].row_of(obj_id) >= 0:
            return typ
    return None


def _walk(node: Any, segs: list[str], typ: str, fetch: Fetch, path: str, w: World) -> None:
    if not segs or not isinstance(node, dict):
        return
    seg, rest = segs[0], segs[1:]
    if typ.startswith(LIST):
        for item in node.get("data") or []:
            _walk(item, rest, typ[len(LIST) :], fetch, path, w)
        return
    embedded = _embedded(w, typ)
    if seg in embedded:
        _walk(node.get(seg), rest, LIST + embedded[seg], fetch, path, w)
        return
    value = node.get(seg)
    declared = spec.expandable(typ).get(seg, ())
    candidates = _targets(w, typ, seg)
    if isinstance(value, str):
        target = _type_of(w, candidates, value)
        if target is None:
            missing = next((t for t in declared if t not in w.tables), declared[0])
            raise ApiError(
                400,
                f"The sandbox cannot expand {path}: it holds no {missing} objects.",
                param="expand",
            )
        value = node[seg] = fetch(target, value)
        typ_next = target
    elif isinstance(value, dict):
        typ_next = str(value.get("object", ""))
    else:
        return
    if rest and typ_next in w.tables:
        _walk(value, rest, typ_next, fetch, path, w)
