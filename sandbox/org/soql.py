"""The sandbox org's SOQL engine: a real parser plus a translator to SQL over the org's SQLite tables.

Design
------
Three stages, each with one job:

1. **Parse** (:func:`parse`). A Lark LALR(1) grammar with the contextual lexer turns the text into
   an immutable AST of dataclasses (:class:`Query`, :class:`FieldRef`, :class:`Comparison`, …).
   Keywords are case-insensitive and only recognised where the grammar expects one, so object and
   field names that collide with keywords (``FROM Order``, ``FROM Group``) still work. String
   literals are decoded here (``\\'``, ``\\\\``, ``\\n``, ``\\uXXXX`` …) and, for ``LIKE``, also
   kept as an SQL ``LIKE … ESCAPE '\\'`` pattern that remembers which ``%``/``_`` were escaped.
   Date, datetime and number literals are typed at parse time. Like the real parser, mixing
   ``AND`` and ``OR`` without parentheses is a syntax error. Parses are cached on the query text.

2. **Compile** (:class:`_Compiler`). Names are resolved case-insensitively against the
   :class:`~sandbox.org.schema.OrgSchema` (output keys use canonical spellings). Parent
   relationship paths (``Account.Name``, ``Account.Owner.Name``) become ``LEFT JOIN`` s, one alias
   per relationship path; polymorphic relationships (``Owner`` of an Order or a Task may be a
   queue or a user, ``What``) join every target table and ``COALESCE`` the columns, which mirrors
   Salesforce's ``Name`` pseudo-object. Filters are type-checked like the real org (booleans
   unquoted, strings quoted, dates only against date fields, …) and translated with **every
   literal bound as a parameter**; identifiers only ever come from the schema via
   :func:`~sandbox.org.storage.quote`. SOQL's two-valued null logic (``Name != 'x'`` matches
   records whose Name is null; so does ``NOT (Amount > 5)``) is obtained by pushing ``NOT`` down
   to the comparisons and writing each negated comparison as ``NOT COALESCE(positive, 0)``;
   positive comparisons stay plain (``col = ?``, ``col IN (?, …)``) so SQLite uses its indexes.
   Date functions (``TODAY``, ``LAST_N_DAYS:n`` …) become half-open ranges of UTC days evaluated
   against the ``now`` passed in.

3. **Execute** (:func:`run_query`). One SQL statement; rows are shaped into the REST JSON record
   form (``attributes``, selected fields in SELECT order, nested parent objects or ``null``)
   with values converted by :func:`~sandbox.org.storage.from_db`.

Supported beyond the plain ``SELECT … FROM … WHERE … ORDER BY … LIMIT … OFFSET``: ``COUNT()``;
aggregate functions ``COUNT(f)``, ``COUNT_DISTINCT(f)``, ``SUM``, ``AVG``, ``MIN``, ``MAX`` with
optional aliases and ``GROUP BY`` (records of type ``AggregateResult``, keys ``expr0`` … like the
real API); ``FIELDS(ALL|STANDARD|CUSTOM)``; an alias on the FROM object. Not supported (the
org answers ``MALFORMED_QUERY``): sub-queries and semi-joins, ``HAVING``, ``TYPEOF``, ``WITH``,
``FOR VIEW/UPDATE``, ``INCLUDES/EXCLUDES``, functions in WHERE, bind variables, fiscal date
literals.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal, TypeAlias

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from sandbox.org.schema import FieldDef, ObjectDef, OrgSchema
from sandbox.org.storage import from_db, id_suffix, quote

__all__ = [
    "And",
    "BooleanLiteral",
    "Comparison",
    "DateFunction",
    "DateLiteral",
    "DateTimeLiteral",
    "FieldRef",
    "FunctionCall",
    "Not",
    "NullLiteral",
    "NumberLiteral",
    "Or",
    "OrderItem",
    "Query",
    "QueryResult",
    "SoqlError",
    "StringLiteral",
    "parse",
    "run_query",
]

ErrorCode = Literal["MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE", "INVALID_QUERY_FILTER_OPERATOR"]


class SoqlError(Exception):
    """A query the org rejects, as the REST API reports it (``[{"errorCode", "message"}]``, HTTP 400).

    ``error_code`` is ``MALFORMED_QUERY`` (syntax, unsupported constructs), ``INVALID_FIELD``
    (unknown field or relationship, a literal of the wrong type), ``INVALID_TYPE`` (unknown
    sObject) or ``INVALID_QUERY_FILTER_OPERATOR`` (a malformed record id, an operator a field's
    type does not support), each with Salesforce's message text.
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


@dataclass
class QueryResult:
    """What a query returns: the REST ``totalSize`` and ``records`` (``[]`` for ``SELECT COUNT()``)."""

    total_size: int
    records: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------------

_POS = {"default": 0, "compare": False, "repr": False}  # source positions never affect equality


@dataclass(frozen=True)
class FieldRef:
    """A field path as written: ``("Name",)``, ``("Account", "Name")``, ``("Owner", "Name")``."""

    path: tuple[str, ...]
    line: int = field(**_POS)  # type: ignore[call-overload]
    column: int = field(**_POS)  # type: ignore[call-overload]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class FunctionCall:
    """``COUNT()``, ``COUNT(Id)``, ``SUM(Amount) total``, ``FIELDS(ALL)`` (name upper-cased)."""

    name: str
    arg: FieldRef | None
    alias: str | None = None
    line: int = field(**_POS)  # type: ignore[call-overload]
    column: int = field(**_POS)  # type: ignore[call-overload]


@dataclass(frozen=True)
class StringLiteral:
    """A quoted string: ``value`` decoded; ``pattern`` the same text as an SQL LIKE pattern (escape ``\\``)."""

    value: str
    pattern: str


@dataclass(frozen=True)
class NumberLiteral:
    value: int | float


@dataclass(frozen=True)
class BooleanLiteral:
    value: bool


@dataclass(frozen=True)
class NullLiteral:
    pass


@dataclass(frozen=True)
class DateLiteral:
    value: date


@dataclass(frozen=True)
class DateTimeLiteral:
    """A datetime literal, normalised to an aware UTC datetime."""

    value: datetime


@dataclass(frozen=True)
class DateFunction:
    """A relative date literal: ``TODAY`` (n None), ``LAST_N_DAYS:30`` (n 30); name upper-cased."""

    name: str
    n: int | None = None


Value: TypeAlias = (
    StringLiteral | NumberLiteral | BooleanLiteral | NullLiteral | DateLiteral | DateTimeLiteral | DateFunction
)


@dataclass(frozen=True)
class Comparison:
    """``field op value``; op is one of ``= != < <= > >= LIKE IN NOT_IN`` (``<>`` is read as ``!=``)."""

    field: FieldRef
    op: str
    value: Value | tuple[Value, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]


Condition: TypeAlias = Comparison | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key; ``nulls_first`` None means Salesforce's default (first for ASC, last for DESC)."""

    expr: FieldRef | FunctionCall
    descending: bool = False
    nulls_first: bool | None = None


@dataclass(frozen=True)
class Query:
    """A parsed SOQL statement."""

    select: tuple[FieldRef | FunctionCall, ...]
    sobject: str
    alias: str | None = None
    where: Condition | None = None
    group_by: tuple[FieldRef, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    text: str = field(default="", compare=False, repr=False)
    sobject_line: int = field(**_POS)  # type: ignore[call-overload]
    sobject_column: int = field(**_POS)  # type: ignore[call-overload]


# ---------------------------------------------------------------------------------------------
# Grammar and parse
# ---------------------------------------------------------------------------------------------

# Keywords are regexes that refuse to match a longer word (``IN`` is not the start of
# ``INCLUDES``) and outrank NAME where both are acceptable (``FROM Order ORDER BY``): the
# contextual lexer only tries the terminals the parser can accept in its current state.
_KEYWORDS = ("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIKE", "IN", "GROUP", "ORDER", "BY", "ASC", "DESC",
             "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET")  # fmt: skip

GRAMMAR = r"""
start: _SELECT select_list _FROM object_ref where? group_by? order_by? limit? offset?

select_list: select_item ("," select_item)*
?select_item: field_path
            | call [NAME]                   -> aliased_call
call: NAME "(" [field_path] ")"
object_ref: NAME [NAME]

where: _WHERE condition
group_by: _GROUP _BY field_path ("," field_path)*
order_by: _ORDER _BY order_item ("," order_item)*
order_item: (field_path | call) [ASC | DESC] [_NULLS (FIRST | LAST)]
limit: _LIMIT INT
offset: _OFFSET INT

?condition: unary
          | unary (_AND unary)+             -> and_
          | unary (_OR unary)+              -> or_
?unary: _NOT unary                          -> not_
      | "(" condition ")"
      | comparison
comparison: field_path OPERATOR value       -> compare
          | field_path _LIKE value          -> like
          | field_path _IN value_list       -> in_
          | field_path _NOT _IN value_list  -> not_in
value_list: "(" value ("," value)* ")"
?value: STRING                              -> string
      | NUMBER                              -> number
      | DATETIME                            -> datetime
      | DATE                                -> date
      | WORD                                -> word

field_path: NAME ("." NAME)*

OPERATOR: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
NAME: /[a-z_][a-z0-9_]*/i
WORD: /[a-z_][a-z0-9_]*(?::[0-9]+)?/i
INT: /[0-9]+/
NUMBER: /[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?![a-z0-9_.:-])/i
DATE.2: /[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9a-z_:])/i
DATETIME.3: /[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})/i
STRING: /'(?:[^'\\]|\\.)*'/s
%ignore /\s+/
""" + "\n".join(f"{'' if k in ('ASC', 'DESC', 'FIRST', 'LAST') else '_'}{k}.2: /{k.lower()}(?![a-z0-9_])/i"
                for k in _KEYWORDS)  # fmt: skip

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}

# Relative date literals: (unit, first period relative to the current one, number of periods).
_FIXED_DATE_FUNCTIONS: dict[str, tuple[str, int, int]] = {
    "YESTERDAY": ("day", -1, 1), "TODAY": ("day", 0, 1), "TOMORROW": ("day", 1, 1),
    "LAST_WEEK": ("week", -1, 1), "THIS_WEEK": ("week", 0, 1), "NEXT_WEEK": ("week", 1, 1),
    "LAST_MONTH": ("month", -1, 1), "THIS_MONTH": ("month", 0, 1), "NEXT_MONTH": ("month", 1, 1),
    "LAST_QUARTER": ("quarter", -1, 1), "THIS_QUARTER": ("quarter", 0, 1), "NEXT_QUARTER": ("quarter", 1, 1),
    "LAST_YEAR": ("year", -1, 1), "THIS_YEAR": ("year", 0, 1), "NEXT_YEAR": ("year", 1, 1),
    "LAST_90_DAYS": ("last_days", 90, 0), "NEXT_90_DAYS": ("day", 1, 90),
}  # fmt: skip
_N_DATE_FUNCTION = re.compile(r"(LAST|NEXT)_N_(DAY|WEEK|MONTH|QUARTER|YEAR)S|N_(DAY|WEEK|MONTH|QUARTER|YEAR)S_AGO")


def _decode_string(token: Token, text: str) -> StringLiteral:
    """Decode a quoted SOQL string literal, building its LIKE pattern alongside."""
    body = token[1:-1]
    value: list[str] = []
    pattern: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":  # (a backslash always starts an escape: the lexer saw to that)
            value.append(ch)
            pattern.append(ch)
            i += 1
            continue
        esc = body[i + 1]
        i += 2
        if esc in "%_":  # meaningful in LIKE; the character itself elsewhere
            value.append(esc)
            pattern.append("\\" + esc)
            continue
        if esc.lower() == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i : i + 4]):
            decoded = chr(int(body[i : i + 4], 16))
            i += 4
        elif esc in _ESCAPES or esc.lower() in _ESCAPES:  # \N is \n, and so on
            decoded = _ESCAPES.get(esc) or _ESCAPES[esc.lower()]
        else:
            raise _located_error(
                "MALFORMED_QUERY",
                f"Invalid string literal '{body}'. Illegal character sequence '\\{esc}' in string literal.",
                text, token.line or 1, token.column or 1,
            )  # fmt: skip
        value.append(decoded)
        pattern.append({"\\": "\\\\", "%": "\\%", "_": "\\_"}.get(decoded, decoded))
    return StringLiteral("".join(value), "".join(pattern))


def _parse_datetime(token: Token, text: str) -> DateTimeLiteral:
    raw = token.upper()
    match = re.fullmatch(r"(.{10})T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|([+-])(\d\d):?(\d\d))", raw)
    try:
        assert match is not None
        day = date.fromisoformat(match[1])
        micro = int((match[5] or "0")[:6].ljust(6, "0"))
        tz = UTC
        if match[6] != "Z":
            offset = timedelta(hours=int(match[8]), minutes=int(match[9]))
            tz = timezone(offset if match[7] == "+" else -offset)
        value = datetime.combine(day, time(int(match[2]), int(match[3]), int(match[4]), micro), tz)
    except (AssertionError, ValueError):
        raise _unexpected(text, token.line or 1, token.column or 1, str(token)) from None
    return DateTimeLiteral(value.astimezone(UTC))


def _parse_word(token: Token) -> Value:
    """A bare value word (already vetted by :func:`_check_word`): null, true, false or a date literal."""
    word = token.upper()
    if word == "NULL":
        return NullLiteral()
    if word in ("TRUE", "FALSE"):
        return BooleanLiteral(word == "TRUE")
    name, _, n = word.partition(":")
    return DateFunction(name, int(n) if n else None)


class _ToAst(Transformer[Token, Any]):
    """Parse tree → AST; literal errors become :class:`SoqlError` located in ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def start(self, items: list[Any]) -> Query:
        select, (sobject, alias, token), *clauses = items
        parts: dict[str, Any] = dict(clauses)
        return Query(
            select=tuple(select), sobject=sobject, alias=alias, where=parts.get("where"),
            group_by=parts.get("group_by", ()), order_by=parts.get("order_by", ()),
            limit=parts.get("limit"), offset=parts.get("offset"), text=self.text,
            sobject_line=token.line, sobject_column=token.column,
        )  # fmt: skip

    def select_list(self, items: list[Any]) -> list[Any]:
        return items

    def call(self, items: list[Any]) -> FunctionCall:
        name, arg = items
        return FunctionCall(name.upper(), arg, None, line=name.line, column=name.column)

    def aliased_call(self, items: list[Any]) -> FunctionCall:
        call, alias = items
        return FunctionCall(call.name, call.arg, str(alias) if alias else None, line=call.line, column=call.column)

    def object_ref(self, items: list[Token]) -> tuple[str, str | None, Token]:
        name, alias = items
        return str(name), str(alias) if alias else None, name

    def field_path(self, items: list[Token]) -> FieldRef:
        return FieldRef(tuple(str(t) for t in items), line=items[0].line, column=items[0].column)

    def where(self, items: list[Any]) -> tuple[str, Condition]:
        return "where", items[0]

    def group_by(self, items: list[FieldRef]) -> tuple[str, tuple[FieldRef, ...]]:
        return "group_by", tuple(items)

    def order_by(self, items: list[OrderItem]) -> tuple[str, tuple[OrderItem, ...]]:
        return "order_by", tuple(items)

    def order_item(self, items: list[Any]) -> OrderItem:
        expr, direction, nulls = items
        descending = direction is not None and direction.type == "DESC"
        return OrderItem(expr, descending, None if nulls is None else nulls.type == "FIRST")

    def limit(self, items: list[Token]) -> tuple[str, int]:
        return "limit", int(items[0])

    def offset(self, items: list[Token]) -> tuple[str, int]:
        return "offset", int(items[0])

    def and_(self, items: list[Condition]) -> And:
        return And(tuple(items))

    def or_(self, items: list[Condition]) -> Or:
        return Or(tuple(items))

    def not_(self, items: list[Condition]) -> Not:
        return Not(items[0])

    def compare(self, items: list[Any]) -> Comparison:
        ref, op, value = items
        return Comparison(ref, "!=" if op == "<>" else str(op), value)

    def like(self, items: list[Any]) -> Comparison:
        return Comparison(items[0], "LIKE", items[1])

    def in_(self, items: list[Any]) -> Comparison:
        return Comparison(items[0], "IN", items[1])

    def not_in(self, items: list[Any]) -> Comparison:
        return Comparison(items[0], "NOT_IN", items[1])

    def value_list(self, items: list[Value]) -> tuple[Value, ...]:
        return tuple(items)

    def string(self, items: list[Token]) -> StringLiteral:
        return _decode_string(items[0], self.text)

    def number(self, items: list[Token]) -> NumberLiteral:
        raw = str(items[0])
        return NumberLiteral(float(raw) if "." in raw else int(raw))

    def date(self, items: list[Token]) -> DateLiteral:
        try:
            return DateLiteral(date.fromisoformat(str(items[0])))
        except ValueError:
            raise _unexpected(self.text, items[0].line or 1, items[0].column or 1, str(items[0])) from None

    def datetime(self, items: list[Token]) -> DateTimeLiteral:
        return _parse_datetime(items[0], self.text)

    def word(self, items: list[Token]) -> Value:
        return _parse_word(items[0])


class _BadWord(Exception):
    """A bare word where a value belongs that is not null, true, false or a date literal."""

    def __init__(self, token: Token) -> None:
        super().__init__(str(token))
        self.token = token


def _check_word(token: Token) -> Token:
    """Lexer callback: reject a bad value word at once (``IN (SELECT …`` fails at ``SELECT``)."""
    name, _, n = token.upper().partition(":")
    if not (
        (not n and (name in ("NULL", "TRUE", "FALSE") or name in _FIXED_DATE_FUNCTIONS))
        or (n and _N_DATE_FUNCTION.fullmatch(name))
    ):
        raise _BadWord(token)
    return token


@functools.cache
def _lark() -> Lark:
    return Lark(
        GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True, lexer_callbacks={"WORD": _check_word}
    )


def _located_error(code: str, message: str, text: str, line: int, column: int) -> SoqlError:
    """An error with Salesforce's location preamble (the query line, a caret, ``ERROR at Row:…``)."""
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else text
    caret = " " * max(column - 1, 0) + "^"
    return SoqlError(code, f"\n{source}\n{caret}\nERROR at Row:{line}:Column:{column}\n{message}")


def _unexpected(text: str, line: int, column: int, token: str | None) -> SoqlError:
    shown = "<EOF>" if token is None else f"'{token}'"
    return _located_error("MALFORMED_QUERY", f"unexpected token: {shown}", text, line, column)


_STRING_RE = re.compile(r"'(?:[^'\\]|\\.)*'", re.S)
_WORD_RE = re.compile(r"[A-Za-z0-9_.:+-]+|\S")


def _line_column(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _syntax_error(text: str, exc: UnexpectedInput) -> SoqlError:
    """A Lark error as Salesforce's ``unexpected token: 'XYZ'`` at the offending word."""
    pos = getattr(exc, "pos_in_stream", None)
    token = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedToken) and token is not None:
        pos = None if token.type == "$END" else token.start_pos
    if isinstance(exc, UnexpectedEOF) or pos is None or pos >= len(text):
        return _unexpected(text, *_line_column(text, len(text.rstrip())), None)
    line, column = _line_column(text, pos)
    if text[pos] == ":":
        return _located_error("MALFORMED_QUERY", "Bind variables only allowed in Apex code", text, line, column)
    word = _STRING_RE.match(text, pos) or _WORD_RE.match(text, pos)
    if word and word[0] == "'":  # an opening quote whose string never closes
        return _located_error("MALFORMED_QUERY", "mismatched character '<EOF>' expecting '''", text, line, column)
    return _unexpected(text, line, column, word[0] if word else None)


@functools.lru_cache(maxsize=1024)
def parse(soql: str) -> Query:
    """Parse a SOQL statement into a :class:`Query` (cached; the AST is immutable).

    Raises :class:`SoqlError` ``MALFORMED_QUERY`` for syntax errors.
    """
    try:
        return _ToAst(soql).transform(_lark().parse(soql))  # type: ignore[no-any-return]
    except UnexpectedInput as exc:
        raise _syntax_error(soql, exc) from None
    except _BadWord as exc:
        raise _unexpected(soql, exc.token.line or 1, exc.token.column or 1, str(exc.token)) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, SoqlError):
            raise exc.orig_exc from None
        raise


# ---------------------------------------------------------------------------------------------
# Compile
# ---------------------------------------------------------------------------------------------

_TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist"})
_ID_TYPES = frozenset({"id", "reference"})
_NUMBER_TYPES = frozenset({"currency", "double", "int"})
_AGGREGATES = frozenset({"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"})
# The fields of Salesforce's ``Name`` pseudo-object, which polymorphic relationships expose.
_NAME_FIELDS = ("Id", "Name", "Type", "Alias", "Email", "FirstName", "LastName", "IsActive", "Phone", "Title",
                "Username")  # fmt: skip
_ID_RE = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_NO_SUCH_COLUMN = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_NO_SUCH_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom relationship, "
    "be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)
_NO_SUCH_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append the "
    "'__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
)


def _id18(value: str) -> str:
    """A 15-character id with its case-safe suffix (18-character ids unchanged)."""
    return value if len(value) == 18 else value + id_suffix(value)


def _sql_datetime(value: datetime) -> str:
    """The stored text form of a UTC datetime, keeping milliseconds."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _period_start(today: date, unit: str, offset: int) -> date:
    if unit == "day":
        return today + timedelta(days=offset)
    if unit == "week":  # weeks start on Sunday (en_US)
        return today - timedelta(days=(today.weekday() + 1) % 7) + timedelta(weeks=offset)
    if unit == "month":
        return _add_months(today.replace(day=1), offset)
    if unit == "quarter":
        return _add_months(date(today.year, (today.month - 1) // 3 * 3 + 1, 1), 3 * offset)
    return date(today.year + offset, 1, 1)


@dataclass(frozen=True)
class _Range:
    """A relative date literal resolved: ``[low, high)``, or ``[low, high]`` when ``high_inclusive``."""

    low: str
    high: str
    high_inclusive: bool = False


def _date_range(fn: DateFunction, now: datetime, is_datetime: bool) -> _Range:
    today = now.date()
    if fn.name in _FIXED_DATE_FUNCTIONS:
        unit, offset, count = _FIXED_DATE_FUNCTIONS[fn.name]
        n = offset if unit == "last_days" else 0
    else:
        match = _N_DATE_FUNCTION.fullmatch(fn.name)
        assert match is not None and fn.n is not None
        n = fn.n
        if match[1] == "LAST" and match[2] == "DAY":
            unit, offset, count = "last_days", n, 0
        elif match[1] == "LAST":
            unit, offset, count = match[2].lower(), -n, n
        elif match[1] == "NEXT":
            unit, offset, count = match[2].lower(), 1, n
        else:
            unit, offset, count = match[3].lower(), -n, 1
    if unit == "last_days":  # LAST_N_DAYS:n — from the start of the day n days ago up to now
        low = today - timedelta(days=n)
        if is_datetime:
            return _Range(_sql_datetime(datetime.combine(low, time(), UTC)), _sql_datetime(now), True)
        return _Range(low.isoformat(), today.isoformat(), True)
    low = _period_start(today, unit, offset)
    high = _period_start(today, unit, offset + count)
    if is_datetime:
        return _Range(*(_sql_datetime(datetime.combine(d, time(), UTC)) for d in (low, high)))
    return _Range(low.isoformat(), high.isoformat())


@dataclass
class _Node:
    """A parent relationship joined into the query (one per relationship path)."""

    key: str  # canonical relationship name, the output key
    targets: list[tuple[ObjectDef, str]]  # (object, SQL alias); several when polymorphic
    polymorphic: bool
    id_sql: str


@dataclass
class _Col:
    """A resolved field: its SQL expression and what it is."""

    sql: str
    params: tuple[Any, ...]
    fd: FieldDef
    nodes: tuple[_Node, ...]  # relationship chain from the root (empty for the object's own fields)
    plain: bool  # a bare column (keeps its COLLATE NOCASE and its indexes)
    ref: FieldRef

    @property
    def key(self) -> str:
        return self.fd.name

    @property
    def identity(self) -> tuple[str, ...]:
        return (*(n.key.lower() for n in self.nodes), self.fd.name.lower())

    def compared(self) -> str:
        """The expression for comparisons and sorting (case-insensitive text, like Salesforce)."""
        return self.sql if self.plain or not self.fd.is_text else f"({self.sql}) COLLATE NOCASE"


@dataclass
class _OutField:
    key: str
    index: int
    fd: FieldDef
    kind: str = "field"  # or an aggregate: "count", "avg", "value"


@dataclass
class _OutNode:
    key: str
    index: int  # column of the parent's Id
    type_name: str | None  # None when polymorphic: type from the id's key prefix
    entries: list[_OutField | _OutNode] = field(default_factory=list)


@dataclass
class _Plan:
    sql: str
    params: list[Any]
    shape: list[_OutField | _OutNode]
    kind: Literal["records", "count", "aggregate"]
    sobject: str  # canonical name of the queried object


class _Compiler:
    """Resolves a :class:`Query` against the schema and writes one SQL statement."""

    def __init__(self, schema: OrgSchema, query: Query, *, include_deleted: bool, now: datetime) -> None:
        self.schema = schema
        self.query = query
        self.include_deleted = include_deleted
        self.now = now
        obj = schema.object(query.sobject)
        if obj is None:
            raise self.error(
                "INVALID_TYPE", _NO_SUCH_TYPE.format(name=query.sobject), query.sobject_line, query.sobject_column
            )
        self.obj = obj
        self.joins: list[str] = []
        self.nodes: dict[tuple[str, ...], _Node] = {}
        self.where_sql = ""

    # -- errors ------------------------------------------------------------------------------

    def error(self, code: str, message: str, line: int = 1, column: int = 1) -> SoqlError:
        return _located_error(code, message, self.query.text, line, column)

    def field_error(self, ref: FieldRef, message: str, code: str = "INVALID_FIELD") -> SoqlError:
        return self.error(code, message, ref.line, ref.column)

    # -- names -------------------------------------------------------------------------------

    def _join(self, parent: _Node | None, path: tuple[str, ...], ref_field: FieldDef, ref: FieldRef) -> _Node:
        node = self.nodes.get(path)
        if node is not None:
            return node
        parent_alias = parent.targets[0][1] if parent else "t0"
        targets = []
        for name in ref_field.reference_to:
            target = self.schema.object(name)
            if target is None:
                continue
            alias = f"j{len(self.joins) + 1}"
            self.joins.append(
                f"LEFT JOIN {quote(target.name)} AS {alias} "
                f"ON {alias}.{quote('Id')} = {parent_alias}.{quote(ref_field.name)}"
            )
            targets.append((target, alias))
        if not targets:
            raise self.field_error(ref, _NO_SUCH_RELATIONSHIP.format(name=path[-1]))
        polymorphic = len(ref_field.reference_to) > 1
        ids = [f"{alias}.{quote('Id')}" for _, alias in targets]
        id_sql = f"COALESCE({', '.join(ids)})" if len(ids) > 1 else ids[0]
        node = _Node(ref_field.relationship_name or ref_field.name, targets, polymorphic, id_sql)
        self.nodes[path] = node
        return node

    def column(self, ref: FieldRef) -> _Col:
        """Resolve a field path (joining parents as needed)."""
        parts = list(ref.path)
        if len(parts) > 1 and (
            (self.query.alias and parts[0].lower() == self.query.alias.lower())
            or (parts[0].lower() == self.obj.name.lower() and self.obj.relationship(parts[0]) is None)
        ):
            parts = parts[1:]
        obj: ObjectDef = self.obj
        alias = "t0"
        chain: list[_Node] = []
        for i, rel_name in enumerate(parts[:-1]):
            ref_field = None if chain and chain[-1].polymorphic else obj.relationship(rel_name)
            if ref_field is None:
                raise self.field_error(ref, _NO_SUCH_RELATIONSHIP.format(name=rel_name))
            path = tuple(p.lower() for p in parts[: i + 1])
            node = self._join(chain[-1] if chain else None, path, ref_field, ref)
            chain.append(node)
            obj, alias = node.targets[0]
        name = parts[-1]
        if chain and chain[-1].polymorphic:
            return self._polymorphic_column(ref, chain, name)
        fd = obj.field(name)
        if fd is None:
            raise self.field_error(ref, _NO_SUCH_COLUMN.format(field=name, entity=obj.name))
        return _Col(f"{alias}.{quote(fd.name)}", (), fd, tuple(chain), True, ref)

    def _polymorphic_column(self, ref: FieldRef, chain: list[_Node], name: str) -> _Col:
        node = chain[-1]
        canonical = next((n for n in _NAME_FIELDS if n.lower() == name.lower()), None)
        present = [(obj, alias, obj.field(name)) for obj, alias in node.targets if obj.field(name)]
        if canonical is None or (not present and canonical != "Type"):
            raise self.field_error(ref, _NO_SUCH_COLUMN.format(field=name, entity="Name"))
        if canonical == "Id":
            return _Col(node.id_sql, (), FieldDef("Id", "id", length=18), tuple(chain), False, ref)
        if canonical == "Type":  # the sObject type; a queue (Group) reports 'Queue'
            whens = " ".join(f"WHEN {alias}.{quote('Id')} IS NOT NULL THEN ?" for _, alias in node.targets)
            params = tuple("Queue" if obj.name == "Group" else obj.name for obj, _ in node.targets)
            fd = FieldDef("Type", "picklist", length=255)
            return _Col(f"CASE {whens} END", params, fd, tuple(chain), False, ref)
        fd = present[0][2]
        assert fd is not None
        sql = [f"{alias}.{quote(fd.name)}" for _, alias, _ in present]
        return _Col(f"COALESCE({', '.join(sql)})" if len(sql) > 1 else sql[0], (), fd, tuple(chain), False, ref)

    # -- WHERE -------------------------------------------------------------------------------

    def condition(self, cond: Condition, negated: bool = False) -> tuple[str, list[Any]]:
        """SQL for a condition; NOT is pushed down to the comparisons (SOQL's two-valued logic)."""
        if isinstance(cond, Not):
            return self.condition(cond.operand, not negated)
        if isinstance(cond, And | Or):
            joiner = " AND " if isinstance(cond, And) != negated else " OR "
            parts = [self.condition(c, negated) for c in cond.operands]
            return "(" + joiner.join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]
        op = cond.op
        if op in ("!=", "NOT_IN"):
            op, negated = ("=" if op == "!=" else "IN"), not negated
        sql, params = self.comparison(cond, op)
        return (f"NOT COALESCE({sql}, 0)" if negated else sql), params

    def comparison(self, cond: Comparison, op: str) -> tuple[str, list[Any]]:
        """SQL for one comparison with a positive operator (``=``, ``<`` …, ``LIKE``, ``IN``)."""
        col = self.column(cond.field)
        if not col.fd.filterable:
            raise self.field_error(cond.field, f"field '{col.key}' can not be filtered in a query call")
        params: list[Any] = []

        def lhs() -> str:  # the field, its own parameters placed where it appears
            params.extend(col.params)
            return col.compared()

        if op == "LIKE":
            if col.fd.type not in _TEXT_TYPES:
                raise self.field_error(
                    cond.field, f"invalid operator on {col.fd.type} field: LIKE", "INVALID_QUERY_FILTER_OPERATOR"
                )
            if isinstance(cond.value, NullLiteral):
                return "0", []
            if not isinstance(cond.value, StringLiteral):
                raise self.type_error(col)
            sql = f"{lhs()} LIKE ? ESCAPE '\\'"
            return sql, [*params, cond.value.pattern]
        if op == "IN":
            assert isinstance(cond.value, tuple)
            values = [self.coerce(col, v) for v in cond.value]
            scalars = [v for v in values if v is not None and not isinstance(v, _Range)]
            terms = []
            if scalars:
                terms.append(f"{lhs()} IN ({', '.join('?' * len(scalars))})")
                params.extend(scalars)
            if any(v is None for v in values):
                terms.append(self._is_null(col, lhs))
            terms.extend(self._range(lhs, "=", v, params) for v in values if isinstance(v, _Range))
            return (terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"), params
        assert not isinstance(cond.value, tuple)
        value = self.coerce(col, cond.value)
        if value is None:
            return (self._is_null(col, lhs), params) if op == "=" else ("0", [])
        if isinstance(value, _Range):
            return self._range(lhs, op, value, params), params
        sql = f"{lhs()} {op} ?"
        return sql, [*params, value]

    @staticmethod
    def _is_null(col: _Col, lhs: Callable[[], str]) -> str:
        # Salesforce stores no empty strings: '' and null are the same for text fields.
        return f"({lhs()} IS NULL OR {lhs()} = '')" if col.fd.is_text else f"{lhs()} IS NULL"

    @staticmethod
    def _range(lhs: Callable[[], str], op: str, rng: _Range, params: list[Any]) -> str:
        """A comparison with a relative date literal, as bounds on the field."""
        high_op, above_op = ("<=", ">") if rng.high_inclusive else ("<", ">=")
        if op == "=":
            low_sql = f"{lhs()} >= ?"
            params.append(rng.low)
            high_sql = f"{lhs()} {high_op} ?"
            params.append(rng.high)
            return f"({low_sql} AND {high_sql})"
        symbol = {"<": "<", ">=": ">=", "<=": high_op, ">": above_op}[op]
        sql = f"{lhs()} {symbol} ?"
        params.append(rng.low if op in ("<", ">=") else rng.high)
        return sql

    def type_error(self, col: _Col) -> SoqlError:
        t = col.fd.type
        if t in _TEXT_TYPES or t in _ID_TYPES:
            expected = "string" if t in _TEXT_TYPES else "id"
            message = f"must be of type {expected} and should be enclosed in quotes"
        else:
            expected = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}.get(t, "double")
            message = f"must be of type {expected} and should not be enclosed in quotes"
        return self.field_error(col.ref, f"value of filter criterion for field '{col.key}' {message}")

    def coerce(self, col: _Col, value: Value) -> Any:
        """A literal as the bound parameter for ``col`` (None for null, a :class:`_Range` for date functions)."""
        t = col.fd.type
        if isinstance(value, NullLiteral):
            return None
        if t in _TEXT_TYPES and isinstance(value, StringLiteral):
            return value.value or None
        if t in _ID_TYPES and isinstance(value, StringLiteral):
            if not value.value:
                return None
            if not _ID_RE.fullmatch(value.value):
                raise self.field_error(col.ref, f"invalid ID field: {value.value}", "INVALID_QUERY_FILTER_OPERATOR")
            return _id18(value.value)
        if t == "boolean" and isinstance(value, BooleanLiteral):
            return int(value.value)
        if t in _NUMBER_TYPES and isinstance(value, NumberLiteral):
            return value.value
        if t == "date" and isinstance(value, DateLiteral):
            return value.value.isoformat()
        if t == "datetime" and isinstance(value, DateTimeLiteral):
            return _sql_datetime(value.value)
        if t in ("date", "datetime") and isinstance(value, DateFunction):
            return _date_range(value, self.now, t == "datetime")
        raise self.type_error(col)

    # -- the statement -----------------------------------------------------------------------

    def compile(self) -> _Plan:
        q = self.query
        select = self._expand_fields(q.select)
        calls = [s for s in select if isinstance(s, FunctionCall)]
        if any(c.name == "COUNT" and c.arg is None for c in calls):
            if len(select) > 1 or q.group_by:
                raise self.error("MALFORMED_QUERY", "COUNT() must be the only element in the SELECT list")
            return self._count_plan()
        if calls or q.group_by:
            return self._aggregate_plan(select)
        return self._records_plan(select)

    def _expand_fields(self, select: Sequence[FieldRef | FunctionCall]) -> list[FieldRef | FunctionCall]:
        out: list[FieldRef | FunctionCall] = []
        for item in select:
            if not (isinstance(item, FunctionCall) and item.name == "FIELDS"):
                out.append(item)
                continue
            kind = item.arg.dotted.upper() if item.arg else ""
            if kind not in ("ALL", "STANDARD", "CUSTOM"):
                raise self.error("MALFORMED_QUERY", f"unexpected token: '{kind}'", item.line, item.column)
            if kind != "STANDARD" and (self.query.limit is None or self.query.limit > 200):
                raise self.error(
                    "MALFORMED_QUERY", "The SOQL FIELDS function must have a LIMIT of at most 200", item.line,
                    item.column,
                )  # fmt: skip
            out.extend(
                FieldRef((f.name,), line=item.line, column=item.column)
                for f in self.obj.fields.values()
                if kind == "ALL" or f.custom == (kind == "CUSTOM")
            )
        return out

    def _resolve_where(self) -> list[Any]:
        """Translate WHERE (plus the IsDeleted filter) into ``self.where_sql``; returns its params."""
        clauses, params = [], []
        if not self.include_deleted and self.obj.field("IsDeleted"):
            clauses.append(f"COALESCE(t0.{quote('IsDeleted')}, 0) = 0")
        if self.query.where is not None:
            sql, params = self.condition(self.query.where)
            clauses.append(sql)
        self.where_sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return params

    def _from_where(self) -> str:
        """FROM, joins and WHERE (call last: joins are known once every clause is resolved)."""
        joins = "".join(" " + j for j in self.joins)
        return f" FROM {quote(self.obj.name)} AS t0{joins}{self.where_sql}"

    def _limit(self, params: list[Any]) -> str:
        q = self.query
        if q.limit is None and q.offset is None:
            return ""
        params.extend([-1 if q.limit is None else q.limit, q.offset or 0])
        return " LIMIT ? OFFSET ?"

    def _count_plan(self) -> _Plan:
        where_params = self._resolve_where()
        inner = "SELECT 1" + self._from_where()
        params = list(where_params)
        limit = self._limit(params)
        sql = f"SELECT COUNT(*) FROM ({inner}{limit})" if limit else f"SELECT COUNT(*){self._from_where()}"
        return _Plan(sql, params, [], "count", self.obj.name)

    def _records_plan(self, select: Sequence[FieldRef | FunctionCall]) -> _Plan:
        columns = [f"t0.{quote('Id')}"]
        select_params: list[Any] = []
        shape: list[_OutField | _OutNode] = []
        out_nodes: dict[tuple[str, ...], _OutNode] = {}
        seen: set[tuple[str, ...]] = set()
        for item in select:
            assert isinstance(item, FieldRef)
            col = self.column(item)
            if col.identity in seen:
                raise self.field_error(item, f"duplicate field selected: {col.key}", "MALFORMED_QUERY")
            seen.add(col.identity)
            entries = shape
            for depth, node in enumerate(col.nodes):
                path = col.identity[: depth + 1]
                out = out_nodes.get(path)
                if out is None:
                    out = _OutNode(node.key, len(columns), None if node.polymorphic else node.targets[0][0].name)
                    columns.append(node.id_sql)
                    out_nodes[path] = out
                    entries.append(out)
                entries = out.entries
            entries.append(_OutField(col.key, len(columns), col.fd))
            columns.append(col.sql)
            select_params.extend(col.params)
        where_params = self._resolve_where()
        order_sql, order_params = self._order_by(aggregate=False)
        params = select_params + where_params + order_params
        sql = f"SELECT {', '.join(columns)}{self._from_where()}{order_sql}"
        sql += self._limit(params)
        return _Plan(sql, params, shape, "records", self.obj.name)

    def _order_by(self, aggregate: bool, grouped: dict[tuple[str, ...], _Col] | None = None) -> tuple[str, list[Any]]:
        terms, params = [], []
        for item in self.query.order_by:
            if isinstance(item.expr, FunctionCall):
                if not aggregate:
                    raise self.error(
                        "MALFORMED_QUERY", "Ordered field must be grouped or aggregated", item.expr.line,
                        item.expr.column,
                    )  # fmt: skip
                sql, call_params, _, _ = self._aggregate(item.expr)
                params.extend(call_params)
            else:
                col = self.column(item.expr)
                if col.fd.type == "textarea" and not col.fd.filterable:
                    raise self.field_error(item.expr, f"field '{col.key}' can not be sorted in a query call")
                if aggregate and grouped is not None and col.identity not in grouped:
                    raise self.field_error(
                        item.expr, f"Ordered field must be grouped or aggregated: {col.key}", "MALFORMED_QUERY"
                    )
                sql = col.compared()
                params.extend(col.params)
            sql += " DESC" if item.descending else " ASC"
            if item.nulls_first is not None:
                sql += " NULLS FIRST" if item.nulls_first else " NULLS LAST"
            terms.append(sql)
        if not aggregate:
            terms.append("t0.rowid")  # a stable order for paging, as the real org's is
        return (" ORDER BY " + ", ".join(terms)) if terms else "", params

    def _aggregate(self, call: FunctionCall) -> tuple[str, list[Any], FieldDef, str]:
        """SQL for an aggregate function call, its params, the argument's field and the value kind."""
        if call.name not in _AGGREGATES:
            raise self.error("MALFORMED_QUERY", f"unexpected token: '{call.name}'", call.line, call.column)
        if call.arg is None:
            raise self.error("MALFORMED_QUERY", f"unexpected token: ')' (function {call.name} needs a field)",
                             call.line, call.column)  # fmt: skip
        col = self.column(call.arg)
        t = col.fd.type
        allowed = {
            "SUM": _NUMBER_TYPES, "AVG": _NUMBER_TYPES,
            "MIN": _NUMBER_TYPES | _TEXT_TYPES | _ID_TYPES | {"date", "datetime"},
        }  # fmt: skip
        allowed["MAX"] = allowed["MIN"]
        if (call.name in allowed and t not in allowed[call.name]) or not col.fd.filterable:
            raise self.field_error(call.arg, f"field {col.key} does not support aggregate operator {call.name}")
        if call.name == "COUNT":
            return f"COUNT({col.sql})", list(col.params), col.fd, "count"
        if call.name == "COUNT_DISTINCT":
            return f"COUNT(DISTINCT {col.compared()})", list(col.params), col.fd, "count"
        expr = col.compared() if call.name in ("MIN", "MAX") else col.sql
        return f"{call.name}({expr})", list(col.params), col.fd, "avg" if call.name == "AVG" else "value"

    def _aggregate_plan(self, select: Sequence[FieldRef | FunctionCall]) -> _Plan:
        grouped: dict[tuple[str, ...], _Col] = {}
        for ref in self.query.group_by:
            col = self.column(ref)
            if not col.fd.filterable or col.fd.type == "textarea":
                raise self.field_error(ref, f"field '{col.key}' can not be grouped in a query call")
            grouped[col.identity] = col
        columns: list[str] = []
        params: list[Any] = []
        shape: list[_OutField | _OutNode] = []
        keys: set[str] = set()
        expr_index = 0
        for item in select:
            if isinstance(item, FieldRef):
                col = self.column(item)
                if col.identity not in grouped:
                    raise self.field_error(item, f"Field must be grouped or aggregated: {col.key}", "MALFORMED_QUERY")
                columns.append(col.sql)
                params.extend(col.params)
                key, out = col.key, _OutField(col.key, len(columns) - 1, col.fd)
            else:
                sql, call_params, fd, kind = self._aggregate(item)
                columns.append(sql)
                params.extend(call_params)
                key = item.alias or f"expr{expr_index}"
                expr_index += 0 if item.alias else 1
                out = _OutField(key, len(columns) - 1, fd, kind)
            if key.lower() in keys:
                raise self.error("MALFORMED_QUERY", f"duplicate alias: {key}", item.line, item.column)
            keys.add(key.lower())
            shape.append(out)
        where_params = self._resolve_where()
        params.extend(where_params)
        group_sql = ""
        if grouped:
            group_sql = " GROUP BY " + ", ".join(c.compared() for c in grouped.values())
            for c in grouped.values():
                params.extend(c.params)
        order_sql, order_params = self._order_by(aggregate=True, grouped=grouped)
        params.extend(order_params)
        sql = f"SELECT {', '.join(columns)}{self._from_where()}{group_sql}{order_sql}"
        sql += self._limit(params)
        return _Plan(sql, params, shape, "aggregate", self.obj.name)


# ---------------------------------------------------------------------------------------------
# Execute
# ---------------------------------------------------------------------------------------------


def _shape(
    entries: list[_OutField | _OutNode], row: Sequence[Any], out: dict[str, Any], schema: OrgSchema, base_url: str
) -> dict[str, Any]:
    for entry in entries:
        if isinstance(entry, _OutField):
            out[entry.key] = from_db(entry.fd, row[entry.index])
            continue
        parent_id = row[entry.index]
        if parent_id is None:
            out[entry.key] = None
            continue
        type_name = entry.type_name
        url_type = type_name
        if type_name is None:  # polymorphic: the "Name" pseudo-object, url of the real record
            target = schema.by_prefix(parent_id[:3])
            type_name, url_type = "Name", target.name if target else "Name"
        child = {"attributes": {"type": type_name, "url": f"{base_url}/{url_type}/{parent_id}"}}
        out[entry.key] = _shape(entry.entries, row, child, schema, base_url)
    return out


def _aggregate_value(entry: _OutField, value: Any) -> Any:
    if value is None:
        return None
    if entry.kind == "count":
        return int(value)
    if entry.kind == "avg":
        return float(value)
    return from_db(entry.fd, value)


def run_query(
    conn: sqlite3.Connection,
    schema: OrgSchema,
    soql: str,
    *,
    api_version: str = "59.0",
    include_deleted: bool = False,
    now: datetime | None = None,
) -> QueryResult:
    """Run a SOQL query against the org's tables and return the REST-shaped result.

    ``include_deleted`` is ``queryAll`` (rows with ``IsDeleted`` set are returned too); ``now``
    (aware, UTC) anchors relative date literals such as ``TODAY`` and ``LAST_N_DAYS:n``.
    Raises :class:`SoqlError` for anything the real org would reject.
    """
    query = parse(soql)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    plan = _Compiler(schema, query, include_deleted=include_deleted, now=now).compile()
    cursor = conn.execute(plan.sql, plan.params)
    if plan.kind == "count":
        return QueryResult(int(cursor.fetchone()[0]), [])
    if plan.kind == "aggregate":
        records = []
        for row in cursor:
            record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
            for entry in plan.shape:
                assert isinstance(entry, _OutField)
                record[entry.key] = _aggregate_value(entry, row[entry.index])
            records.append(record)
        return QueryResult(len(records), records)
    base_url = f"/services/data/v{api_version.lstrip('vV')}/sobjects"
    type_name = plan.sobject
    records = [
        _shape(plan.shape, row, {"attributes": {"type": type_name, "url": f"{base_url}/{type_name}/{row[0]}"}},
               schema, base_url)
        for row in cursor
    ]  # fmt: skip
    return QueryResult(len(records), records)
