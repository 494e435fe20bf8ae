"""Exact decimals on every backend, and exact sums of them.

PostgreSQL and MySQL store `NUMERIC(p, s)` exactly, but SQLite gives NUMERIC columns REAL affinity:
187.1 would come back as 187.09999999999999. On SQLite an `ExactDecimal` is therefore stored as a
scaled 64-bit integer (187.1 with scale 8 is 18710000000), which keeps values, ordering, MIN/MAX
and comparisons exact. Every backend returns `Decimal`s quantized to the column's scale, so reads
are identical whatever the database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, FunctionElement, Numeric, func, literal_column, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

# A scaled value must fit SQLite's signed 64-bit INTEGER (about 9.22e18).
MAX_SQLITE_DIGITS = 18
# SQLite's SUM raises "integer overflow" past 64 bits; summing a value's high and low parts
# separately (and adding them in Python) stays exact for any realistic number of rows. SQLite's
# integer `/` and `%` both truncate toward zero, so high * _SPLIT + low is the value, sign included.
_SPLIT = 10**9


class ExactDecimal(TypeDecorator[Decimal]):
    """A `Decimal` with `precision` digits, `scale` of them fractional, stored exactly on every backend."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        if precision > MAX_SQLITE_DIGITS:
            raise ValueError(f"ExactDecimal holds at most {MAX_SQLITE_DIGITS} digits")
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = self._checked(Decimal(value) if not isinstance(value, Decimal) else value)
        return int(exact.scaleb(self.scale)) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale).quantize(self.quantum)
        return Decimal(value).quantize(self.quantum)

    def _checked(self, value: Decimal) -> Decimal:
        # Never round silently: callers validate first, so a value that does not fit is a bug.
        quantized = value.quantize(self.quantum)
        if quantized != value or len(quantized.as_tuple().digits) > self.precision:
            raise ValueError(f"{value} does not fit NUMERIC({self.precision}, {self.scale})")
        return quantized


class _SumPart(TypeDecorator[Decimal]):
    """A part of an exact sum as a `Decimal`: on SQLite a sum of scaled integers, times `factor`."""

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int, factor: int) -> None:
        super().__init__(asdecimal=True)
        self.scale = scale
        self.factor = factor

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal:
        if value is None:
            return Decimal(0)
        if dialect.name == "sqlite":
            return Decimal(int(value) * self.factor).scaleb(-self.scale)
        return Decimal(value)


class _ExactSumPart(FunctionElement[Decimal]):
    """`SUM(column)` and 0 where NUMERIC is exact; the high and low parts of the scaled values' sum on
    SQLite. One expression for every dialect, so that a statement's cache key does not depend on it."""

    inherit_cache = True
    high: bool

    def __init__(self, column: InstrumentedAttribute[Any], decimal_type: ExactDecimal) -> None:
        super().__init__(column)
        self.type = _SumPart(decimal_type.scale, _SPLIT if self.high else 1)


class _ExactSumHigh(_ExactSumPart):
    inherit_cache = True
    high = True


class _ExactSumLow(_ExactSumPart):
    inherit_cache = True
    high = False


@compiles(_ExactSumHigh)
def _sum(element: _ExactSumPart, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.sum(*element.clauses), **kw)


@compiles(_ExactSumLow)
def _nothing(element: _ExactSumPart, compiler: SQLCompiler, **kw: Any) -> str:
    return "0"


@compiles(_ExactSumHigh, "sqlite")
@compiles(_ExactSumLow, "sqlite")
def _split_sum(element: _ExactSumPart, compiler: SQLCompiler, **kw: Any) -> str:
    scaled = type_coerce(next(iter(element.clauses)), BigInteger)
    split = literal_column(str(_SPLIT), BigInteger)
    return compiler.process(func.sum(scaled // split if element.high else scaled % split), **kw)


class ExactSum:
    """`SUM(column)` of an ExactDecimal column as select columns, exact on every backend.

    Select `*ExactSum.columns` and read the total back with `value(row)`.
    """

    def __init__(self, column: InstrumentedAttribute[Any], label: str) -> None:
        decimal_type = column.type
        if not isinstance(decimal_type, ExactDecimal):
            raise TypeError("ExactSum needs an ExactDecimal column")
        self.type = decimal_type
        self.labels = [f"{label}_high", f"{label}_low"]
        self.columns: list[ColumnElement[Any]] = [
            _ExactSumHigh(column, decimal_type).label(self.labels[0]),
            _ExactSumLow(column, decimal_type).label(self.labels[1]),
        ]

    def value(self, row: Any) -> Decimal:
        """The sum in `row` (a result row with these columns); 0 when there was nothing to sum."""
        high, low = (row._mapping[name] for name in self.labels)
        return Decimal(high + low).quantize(self.type.quantum)
