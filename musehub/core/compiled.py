"""ORM reads compiled once and run many times: the hot routes' fixed cost per query, removed.

Building a QuerySet and compiling it to SQL costs about 0.3 to 1 ms of Python per query:
several times what PostgreSQL spends on a primary-key lookup (PERF-NOTES). The hottest
reads have a fixed shape in which only the parameter values change, so ``CompiledQuery``
lets the ORM write the SQL and pick the row converters once per database, then binds new
values on each run. The rows are exactly what the same ``.values()`` query would return.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DateTimeField, Model, QuerySet


class CompiledQuery:
    """A ``.values()`` query whose SQL is built once; ``fetch(**params)`` runs it.

    ``build`` takes the parameters by name and returns the QuerySet. It is called once per
    database, with a placeholder for each parameter the query binds:
    - by default a unique string, which the ORM passes to the database as it is when it is
      compared with a string column (an id);
    - for a parameter named in ``datetimes``, a sentinel instant: each value is then
      converted for the database as the ORM converts a ``DateTimeField``'s.
    - for a parameter named in ``integers`` (a user id), an integer no row has.
    Parameters named in ``shape`` change the SQL itself (a page size becomes ``LIMIT``, a
    filter is there or not): ``build`` gets their real values, and each distinct combination
    compiles once. The only other values the SQL may hold are booleans (``is_active =
    True``, from ``build`` or a shape value): they stay fixed in that compiled statement.
    The query may annotate aggregates (``.values("repo_id").annotate(total=Count("*"))``).
    """

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        datetimes: tuple[str, ...] = (),
        integers: tuple[str, ...] = (),
        shape: tuple[str, ...] = (),
    ) -> None:
        self._build = build
        self._bound = tuple(name for name in inspect.signature(build).parameters if name not in shape)
        self._datetimes = datetimes
        self._integers = integers
        self._shape = shape
        self._compiled: dict[tuple, tuple[str, tuple[str | _Constant, ...], tuple[str, ...], dict]] = {}

    def _placeholder(self, name: str, position: int) -> Any:
        if name in self._datetimes:
            return datetime(2000, 1, 1, 0, 0, 0, position + 1, tzinfo=UTC)
        if name in self._integers:
            return _INTEGER_PLACEHOLDER - position
        return f"\x00{name}\x00"

    def _to_db(self, name: str, value: Any, connection) -> Any:
        return _DATETIME.get_db_prep_value(value, connection) if name in self._datetimes else value

    def _compile(self, key: tuple, using: str, shape: dict[str, Any]):
        connection = connections[using]
        placeholders = {name: self._placeholder(name, i) for i, name in enumerate(self._bound)}
        query = self._build(**placeholders, **shape).query
        if query.extra_select or not query.values_select:
            raise TypeError("CompiledQuery needs a .values() query of fields (and aggregates)")
        compiler = query.get_compiler(using)
        sql, params = compiler.as_sql()
        slots = {self._to_db(name, value, connection): name for name, value in placeholders.items()}
        if any(param not in slots and not _is_constant(param) for param in params):
            raise TypeError("CompiledQuery parameters must be the build function's arguments")
        bindings = tuple(slots[param] if param in slots else _Constant(param) for param in params)
        selected = compiler.select[: compiler.col_count]
        fields = [column for column, _, _ in selected]
        # The names in the order the statement selects them: since Django 5.2 that is the
        # order .values() was given, annotations among the fields.
        names = tuple(alias for _, _, alias in selected)
        if None in names:
            raise TypeError("CompiledQuery needs every selected column named (Django 5.2+)")
        compiled = (sql, bindings, names, compiler.get_converters(fields))
        self._compiled[key] = compiled
        return compiled

    def fetch(self, *, using: str = DEFAULT_DB_ALIAS, **params: Any) -> list[dict[str, Any]]:
        """The rows for these parameter values, as dicts keyed like ``.values()``."""
        return list(self.iterate(using=using, **params))

    def iterate(self, *, using: str = DEFAULT_DB_ALIAS, **params: Any) -> Iterator[dict[str, Any]]:
        """``fetch``, one row at a time: a row is converted (its JSON decoded, say) only when
        it is asked for, so a caller that stops early never builds the rest."""
        sql, values, names, converters = self._bind(using, params)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            while chunk := cursor.fetchmany(_CHUNK):
                for row in chunk:
                    values = list(row)
                    for position, (functions, expression) in converters.items():
                        for convert in functions:
                            values[position] = convert(values[position], expression, connection)
                    yield dict(zip(names, values, strict=True))

    def sql(self, *, using: str = DEFAULT_DB_ALIAS, **params: Any) -> tuple[str, list[Any]]:
        """The statement and its values for these parameters, not run: for a statement that
        holds it as a subquery (a write made only if the query finds a row)."""
        sql, values, _, _ = self._bind(using, params)
        return sql, values

    def _bind(self, using: str, params: dict[str, Any]) -> tuple[str, list[Any], tuple[str, ...], dict]:
        shape = {name: params[name] for name in self._shape}
        key = (using, *shape.values())
        sql, bindings, names, converters = self._compiled.get(key) or self._compile(key, using, shape)
        connection = connections[using]
        values = [
            binding.value if isinstance(binding, _Constant) else self._to_db(binding, params[binding], connection)
            for binding in bindings
        ]
        return sql, values, names, converters


#: Rows taken from the database driver at a time by ``iterate``.
_CHUNK = 32
_DATETIME = DateTimeField()


#: Integer parameters are compiled with values no id takes (far below zero).
_INTEGER_PLACEHOLDER = -(10**15)


def _is_constant(param: Any) -> bool:
    """A boolean the build function wrote into the query (``is_active = True``). Any other
    value is refused: it is most likely a parameter that went in by mistake, or one the ORM
    transformed on its way (a string placeholder wrapped in ``%...%``)."""
    return isinstance(param, bool)


@dataclass(frozen=True, slots=True)
class _Constant:
    """A value fixed in a compiled statement (a boolean), bound as it is on every run."""

    value: bool


def columns(model: type[Model]) -> list[str]:
    """The attribute names of ``model``'s columns, e.g. to read a whole row with ``.values()``."""
    return [field.attname for field in model._meta.concrete_fields]


def instance_from_row(model: type[Model], row: dict[str, Any], *, prefix: str = "") -> Model:
    """The ``model`` instance a ``.values(*columns(model))`` row holds (under ``prefix``),
    made as the ORM makes those it loads (``from_db``: saved, signals as usual)."""
    names = columns(model)
    return model.from_db(DEFAULT_DB_ALIAS, names, [row[prefix + name] for name in names])
