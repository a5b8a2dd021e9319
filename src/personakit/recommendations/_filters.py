"""Business filters: the host's item catalogue and a recommendation context, validated.

The catalogue maps item ids to what the shop knows about them (all optional)::

    {"sourdough": {"name": "Sourdough loaf", "category": "bread", "price_cents": 450,
                   "in_stock": true}}

The context of one call (all keys optional)::

    {"category": "bread", "min_price_cents": 100, "max_price_cents": 2000,
     "in_stock": true, "exclude": ["rye"], "exclude_bought": true}

``category``, the price bounds and ``in_stock`` need a catalogue; an item the catalogue does
not list never passes them. ``in_stock`` defaults to true when a catalogue is set. A host may
instead (or also) pass ``where``, a callable taking an item id and returning a bool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from attrs import frozen

from personakit.exceptions import InvalidInput, Problem

__all__ = [
    "OPEN",
    "CatalogueItem",
    "Filter",
    "check_catalogue",
    "check_context",
    "check_item",
    "keep_all",
]

_MAX_ID: Final = 128
_MAX_EXCLUDE: Final = 10_000
_CONTEXT_KEYS: Final = frozenset(
    {"category", "min_price_cents", "max_price_cents", "in_stock", "exclude", "exclude_bought"}
)


@frozen
class CatalogueItem:
    """What the shop says about one item."""

    name: str | None = None
    category: str | None = None
    price_cents: int | None = None
    in_stock: bool | None = None


def _p(where: str, what: str) -> Problem:
    return Problem(where=where, what=what)


def _is_int(value: object) -> bool:
    return type(value) is int and 0 <= value <= 10**15


def _is_id(value: object) -> bool:
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_ID:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_item(item: object, where: str = "item") -> str:
    """``item`` if it is an item id (1..128 characters of text); InvalidInput otherwise."""
    if not _is_id(item):
        raise InvalidInput("invalid item", [_p(where, "must be an item id (1-128 chars)")])
    return item  # type: ignore[return-value]  # _is_id checked it is a str


def _entry_problems(where: str, info: object) -> list[Problem]:
    if not isinstance(info, Mapping):
        return [_p(where, "must be an object")]
    problems: list[Problem] = []
    if set(info) - {"name", "category", "price_cents", "in_stock"}:
        problems.append(_p(where, "unknown keys"))
    problems.extend(
        _p(f"{where}.{key}", "must be text (1-128 chars)")
        for key in ("name", "category")
        if info.get(key) is not None and not _is_id(info.get(key))
    )
    price, stock = info.get("price_cents"), info.get("in_stock")
    if price is not None and not _is_int(price):
        problems.append(_p(f"{where}.price_cents", "must be a non-negative integer"))
    if stock is not None and type(stock) is not bool:
        problems.append(_p(f"{where}.in_stock", "must be a boolean"))
    return problems


def check_catalogue(catalogue: object) -> dict[str, CatalogueItem]:
    """The validated catalogue; every problem listed in one InvalidInput."""
    if not isinstance(catalogue, Mapping):
        raise InvalidInput("invalid catalogue", [_p("catalogue", "must be a mapping")])
    problems: list[Problem] = []
    items: dict[str, CatalogueItem] = {}
    for index, (item, info) in enumerate(catalogue.items()):
        where = f"catalogue[{index}]"
        if not _is_id(item):
            problems.append(_p(where, "key must be an item id (1-128 chars)"))
            continue
        found = _entry_problems(where, info)
        if found:
            problems.extend(found)
            continue
        items[item] = CatalogueItem(
            info.get("name"), info.get("category"), info.get("price_cents"), info.get("in_stock")
        )
    if problems:
        raise InvalidInput("invalid catalogue", problems)
    return items


@frozen
class Filter:
    """One call's filter: which items may be recommended, and whether bought ones are out."""

    keep: Callable[[str], bool]
    exclude_bought: bool
    category: str | None


def keep_all(item: str) -> bool:
    """The filter of a call without context, ``where`` or catalogue: every item passes."""
    del item
    return True


#: The filter of a call without context, ``where`` or catalogue (bought items excluded).
OPEN: Final = Filter(keep=keep_all, exclude_bought=True, category=None)


def _context_problems(
    context: object, catalogue: object, where: object
) -> tuple[Mapping[Any, Any], list[Problem]]:
    problems: list[Problem] = []
    ctx: Mapping[Any, Any] = {}
    if context is not None and not isinstance(context, Mapping):
        problems.append(_p("context", "must be an object or None"))
    elif context is not None:
        ctx = context
        if any(not isinstance(k, str) or k not in _CONTEXT_KEYS for k in ctx):
            problems.append(_p("context", f"keys are among {sorted(_CONTEXT_KEYS)}"))
    if where is not None and not callable(where):
        problems.append(_p("where", "must be a callable taking an item id"))
    problems.extend(_value_problems(ctx, has_catalogue=catalogue is not None))
    return ctx, problems


def _value_problems(ctx: Mapping[Any, Any], *, has_catalogue: bool) -> list[Problem]:
    problems: list[Problem] = []
    category = ctx.get("category")
    if category is not None and not _is_id(category):
        problems.append(_p("context.category", "must be text (1-128 chars)"))
    problems.extend(
        _p(f"context.{name}", "must be a non-negative integer")
        for name in ("min_price_cents", "max_price_cents")
        if ctx.get(name) is not None and not _is_int(ctx.get(name))
    )
    problems.extend(
        _p(f"context.{name}", "must be a boolean")
        for name, default in (("in_stock", has_catalogue), ("exclude_bought", True))
        if type(ctx.get(name, default)) is not bool
    )
    exclude = ctx.get("exclude", [])
    if (
        not isinstance(exclude, list | tuple)
        or len(exclude) > _MAX_EXCLUDE
        or not all(_is_id(x) for x in exclude)
    ):
        problems.append(_p("context.exclude", "must be a list of item ids"))
    return problems


def check_context(
    context: object,
    catalogue: Mapping[str, CatalogueItem] | None,
    where: object = None,
) -> Filter:
    """The validated context compiled into a :class:`Filter`; InvalidInput lists every problem."""
    if context is None and where is None and catalogue is None:
        return OPEN  # the common call: nothing to check or compile
    ctx, problems = _context_problems(context, catalogue, where)
    category = ctx.get("category")
    low, high = ctx.get("min_price_cents"), ctx.get("max_price_cents")
    stock = ctx.get("in_stock", catalogue is not None)
    needs = category is not None or low is not None or high is not None or stock is True
    if needs and catalogue is None:
        problems.append(_p("context", "category, price and stock filters need a catalogue"))
    if problems:
        raise InvalidInput("invalid recommendation context", problems)
    excluded = frozenset(ctx.get("exclude", []))
    test: Callable[[str], object] | None = where  # type: ignore[assignment]
    listed = catalogue if needs else None

    def keep(item: str) -> bool:
        if item in excluded:
            return False
        if listed is not None and not _passes(listed.get(item), category, low, high, stock):
            return False
        if test is None:
            return True
        try:
            return test(item) is True
        except Exception as exc:  # the host's filter: any failure of it is bad input to us
            raise InvalidInput("the where filter failed", [_p("where", "raised")]) from exc

    return Filter(keep=keep, exclude_bought=ctx.get("exclude_bought", True), category=category)


def _passes(
    info: CatalogueItem | None, category: object, low: object, high: object, stock: object
) -> bool:
    if info is None or (category is not None and info.category != category):
        return False
    price = info.price_cents
    if isinstance(low, int) and (price is None or price < low):
        return False
    if isinstance(high, int) and (price is None or price > high):
        return False
    return not (stock is True and info.in_stock is False)
