"""The reconciliation rules on one order: what is wrong with it, and what the CSR should do.

:func:`check_order` takes the :class:`OrderFacts` of one Salesforce eCommerce order (read from
Salesforce and, where the store window has it, from BigCommerce) and returns its
:class:`Finding` list, each a stable code and a message telling the CSR what to do. The
frame-level work (reading the inputs, Tasks, status write-back) is in
:mod:`transforms.reconcile`.

Codes, in the order they are listed on an order (at most one of the three set-code codes):

``SET_CODE_MISSING`` (rule R9)
    ASTEA Key Direct Billing is blank (missing, empty or whitespace).
``SET_CODE_NOT_109337`` (rule R9)
    The key is not the ASTEA customer number (``109337``, from
    :attr:`transforms.mapping.SalesforceMapping.astea_customer_number`) followed by a separator
    and a name. Well-formed (:func:`parse_set_code`): surrounding whitespace ignored; the
    separator is one ASCII hyphen (spaces around it allowed: ``109337 - Sefton``) or one or
    more spaces (seed 001 writes ``109337 Sefton``); the name part starts with neither a hyphen
    nor a space and holds at least one letter or digit. ``109337Sefton``, ``109337-``,
    ``109337--Sefton``, ``109337–Sefton`` (an en dash), ``1093370-Sefton`` or ``Sefton`` are not.
``SET_CODE_NAME_MISMATCH`` (rule R9)
    Well-formed, but the name part does not name the buyer (:func:`names_match`). The buyer's
    last name is the store order's billing last name, else the order's Bill-To Contact's
    LastName; when neither is known the name is not checked.
``TERMS_NOT_PREPAY`` (rule R10)
    The account is under the customer number (:func:`under_customer`: the Account's ASTEA key,
    or when that is blank the order's set code, starts with ``109337`` not followed by another
    digit) while its Repair Account Terms hold a value other than ``Pre-Pay`` (the account
    default of :mod:`transforms.mapping`; compared ignoring case and surrounding whitespace).
    Blank terms grant no terms and are not flagged.
``PAID_UNTICKED`` (rule R11)
    The payment status says the money was taken (:data:`CAPTURED_PAYMENT_STATUSES`:
    ``captured``, ``paid``, ``partially refunded``; case-insensitive) while ``Paid__c`` is not
    ticked. ``authorized``, ``capture pending``, ``pending``, ``held for review``, ``declined``,
    ``refunded``, ``void`` and ``void pending`` are not flagged: nothing is (still) captured,
    so there is nothing to tick (a fully refunded order is not one to mark paid).
``MISSING_IN_SALESFORCE`` (:func:`missing_in_salesforce`)
    A store order of the window without a Salesforce order (report only: no record to flag).

Name comparison (:func:`name_keys`): both sides are cleaned like every text
(:func:`transforms.text.clean_scalar`, as the suggested set code's last name is), case-folded,
accents removed (NFKD without combining marks; ``ø æ œ ł đ þ ı`` by their Latin letters), and
everything but letters and digits dropped (spaces, apostrophes, hyphens, dots): ``OBrien`` is
``O'Brien``, ``vanderberg`` is ``Van der Berg``, ``Muller`` is ``Müller``. German
transliteration is accepted as well (``Mueller`` is ``Müller`` and vice versa). The name part
may go on after the last name, separated by a space or a comma (seed 001: the set code includes
"their last name and ship to address", so ``109337-Sefton Columbus`` names Sefton), but a
longer word does not match (``Seftons`` is not ``Sefton``). A last name without any letter or
digit cannot be compared and is not checked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from transforms.text import clean_scalar

SET_CODE_MISSING = "SET_CODE_MISSING"
SET_CODE_NOT_109337 = "SET_CODE_NOT_109337"
SET_CODE_NAME_MISMATCH = "SET_CODE_NAME_MISMATCH"
TERMS_NOT_PREPAY = "TERMS_NOT_PREPAY"
PAID_UNTICKED = "PAID_UNTICKED"
MISSING_IN_SALESFORCE = "MISSING_IN_SALESFORCE"

#: Every code, in the order an order's codes are listed.
CODES: tuple[str, ...] = (
    SET_CODE_MISSING, SET_CODE_NOT_109337, SET_CODE_NAME_MISMATCH, TERMS_NOT_PREPAY, PAID_UNTICKED,
    MISSING_IN_SALESFORCE,
)  # fmt: skip

#: BigCommerce payment statuses meaning the payment was captured (money taken, maybe partly refunded).
CAPTURED_PAYMENT_STATUSES = frozenset({"captured", "paid", "partially refunded"})

# Letters NFKD does not decompose, by their plain Latin spelling.
_PLAIN_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
# German (and Scandinavian) transliteration: what a CSR types when ASTEA takes ASCII only.
_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "å": "aa", "ø": "oe"})
# Separators between the words of a set code's name part (the last name, then e.g. a city).
_WORDS = re.compile(r"[ ,]+")


@dataclass(frozen=True)
class Finding:
    """One problem of one order: a stable ``code``, a ``label`` for a subject line, and a
    ``message`` saying what the CSR should do."""

    code: str
    label: str
    message: str


@dataclass(frozen=True)
class SetCode:
    """An ASTEA Key Direct Billing value, parsed (:func:`parse_set_code`).

    ``kind``: ``"missing"`` (blank), ``"malformed"`` (not the customer number, a separator and
    a name) or ``"ok"``; ``text``: the value cleaned (None when blank); ``name``: the name part
    of a well-formed value.
    """

    kind: str
    text: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know about one Salesforce order (text already cleaned; None when
    unknown)."""

    order_key: str
    set_code: str | None = None
    #: The buyer's last name: the store's billing last name, else the Bill-To Contact's.
    last_name: str | None = None
    #: The set code to suggest to the CSR (built from ``last_name`` like the sync's suggestion).
    suggested_set_code: str | None = None
    account_name: str | None = None
    account_astea_key: str | None = None
    terms: str | None = None
    payment_status: str | None = None
    paid: bool = False


@dataclass(frozen=True)
class Rules:
    """The constants the rules compare with, taken from the mapping by the caller."""

    customer_number: str = "109337"
    prepay: str = "Pre-Pay"


@lru_cache(maxsize=8)
def _set_code_pattern(number: str) -> re.Pattern[str]:
    """Customer number, then a hyphen (one space allowed each side) or spaces, then the rest."""
    return re.compile(rf"{re.escape(number)}(?: ?- ?| +)(?P<name>.*)", re.DOTALL)


def parse_set_code(value: str | None, number: str = "109337") -> SetCode:
    """``value`` (as typed by a CSR) parsed against customer ``number``; see the module docstring.

    >>> parse_set_code(" 109337 Sefton ")
    SetCode(kind='ok', text='109337 Sefton', name='Sefton')
    >>> parse_set_code("109337Sefton").kind, parse_set_code("").kind
    ('malformed', 'missing')
    """
    text = clean_scalar(value) if isinstance(value, str) else None
    if text is None:
        return SetCode("missing")
    found = _set_code_pattern(number).fullmatch(text)
    name = found["name"] if found else ""
    if not name or name[0] in "- " or not any(c.isalnum() for c in name):
        return SetCode("malformed", text)
    return SetCode("ok", text, name)


@lru_cache(maxsize=65_536)
def name_keys(text: str) -> frozenset[str]:
    """The comparison keys of a name: letters and digits only, case-folded, accents removed; and
    the same with German transliteration (``Müller`` -> ``{"muller", "mueller"}``). Empty when
    the name has no letter or digit."""
    cleaned = clean_scalar(text) or ""
    folded = unicodedata.normalize("NFC", cleaned.casefold())
    keys = {_plain(folded), _plain(folded.translate(_TRANSLITERATION))}
    keys.discard("")
    return frozenset(keys)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_PLAIN_LETTERS))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def names_match(name_part: str, last_name: str) -> bool:
    """Whether a set code's name part names ``last_name``: equal keys (:func:`name_keys`), or the
    name part's first words are the last name and more words follow (``Sefton Columbus``)."""
    wanted = name_keys(last_name)
    if not wanted:
        return True  # nothing to compare with
    words = [w for w in _WORDS.split(name_part) if w]
    return any(not wanted.isdisjoint(name_keys(" ".join(words[:n]))) for n in range(1, len(words) + 1))


def under_customer(key: str | None, number: str = "109337") -> bool:
    """Whether an ASTEA key is under customer ``number``: it starts with the number, not followed
    by another digit (``109337``, ``109337-Sefton``, ``109337Sefton``; not ``1093370``)."""
    text = clean_scalar(key) if isinstance(key, str) else None
    if text is None or not text.startswith(number):
        return False
    rest = text[len(number) :]
    return not rest or not rest[0].isdigit()


def _suggestion(facts: OrderFacts, rules: Rules) -> str:
    return facts.suggested_set_code or f"{rules.customer_number}-<the customer's last name>"


def _set_code_findings(facts: OrderFacts, rules: Rules) -> list[Finding]:
    number, suggested = rules.customer_number, _suggestion(facts, rules)
    # R9: billing fails without the customer's own set code: flag a blank key, a key not under
    # 109337, and a key naming someone else than the buyer.
    parsed = parse_set_code(facts.set_code, number)
    if parsed.kind == "missing":
        message = (
            "ASTEA Key Direct Billing is blank, so billing will not process. Create this customer's set code "
            f"in ASTEA under customer {number} if it does not exist yet, then type it in the order's ASTEA Key "
            f"Direct Billing field: {suggested}."
        )
        return [Finding(SET_CODE_MISSING, "set code missing", message)]
    if parsed.kind == "malformed":
        message = (
            f"ASTEA Key Direct Billing is '{parsed.text}', which is not {number} followed by a dash or a space "
            f"and the customer's last name. eCommerce orders are billed under ASTEA customer {number}: check "
            f"the customer's set code in ASTEA and correct the field to {suggested}."
        )
        return [Finding(SET_CODE_NOT_109337, f"set code not {number}-<last name>", message)]
    if facts.last_name and parsed.name and not names_match(parsed.name, facts.last_name):
        message = (
            f"ASTEA Key Direct Billing '{parsed.text}' names '{parsed.name}', but the customer's last name is "
            f"'{facts.last_name}'. Check which set code this customer has in ASTEA under {number} (create it "
            f"if missing) and correct the field to {suggested}."
        )
        return [Finding(SET_CODE_NAME_MISMATCH, "set code does not match last name", message)]
    return []


def _terms_findings(facts: OrderFacts, rules: Rules) -> list[Finding]:
    number = rules.customer_number
    key, source = facts.account_astea_key, "its ASTEA key"
    if key is None:
        key, source = facts.set_code, "the order's set code"
    terms = clean_scalar(facts.terms) if isinstance(facts.terms, str) else None
    # R10: customers under 109337 have no terms (card only): other terms on such an account conflict.
    if terms is None or terms.casefold() == rules.prepay.casefold() or not under_customer(key, number):
        return []
    account = f"Account '{facts.account_name}'" if facts.account_name else "The order's account"
    message = (
        f"{account} is billed under ASTEA customer {number} ({source} is '{clean_scalar(key or '')}') but its "
        f"Repair Account Terms are '{terms}'. Customers under {number} pay by credit card only: set the terms "
        f"back to {rules.prepay}, or, if the terms are intended, give the account its own ASTEA customer number."
    )
    return [Finding(TERMS_NOT_PREPAY, f"terms not {rules.prepay}", message)]


def is_captured(payment_status: str | None) -> bool:
    """Whether a BigCommerce payment status means the payment was captured
    (:data:`CAPTURED_PAYMENT_STATUSES`, ignoring case and surrounding whitespace)."""
    text = clean_scalar(payment_status) if isinstance(payment_status, str) else None
    return text is not None and text.lower() in CAPTURED_PAYMENT_STATUSES


def _payment_findings(facts: OrderFacts) -> list[Finding]:
    # R11: the CSR captures the payment in BigCommerce, then ticks Paid: captured but unticked is flagged.
    if facts.paid or not is_captured(facts.payment_status):
        return []
    message = (
        f"BigCommerce reports the payment as '{facts.payment_status}' but the order's Paid box is not ticked. "
        "Confirm the capture in BigCommerce, then tick Paid on the order."
    )
    return [Finding(PAID_UNTICKED, "payment captured, Paid not ticked", message)]


def check_order(facts: OrderFacts, rules: Rules | None = None) -> list[Finding]:
    """The findings of one Salesforce order, in :data:`CODES` order (empty when it is clean)."""
    rules = rules or Rules()
    return [*_set_code_findings(facts, rules), *_terms_findings(facts, rules), *_payment_findings(facts)]


def missing_in_salesforce(order_key: str, placed: str | None = None) -> Finding:
    """The finding of a store order without a Salesforce order (``placed``: its creation date)."""
    when = f" (placed {placed})" if placed else ""
    message = (
        f"Store order {order_key}{when} has no Salesforce order. Check the sync's rejects (dead letters) for "
        "this order and the next sync run; no Task is opened as there is no Salesforce order to attach it to."
    )
    return Finding(MISSING_IN_SALESFORCE, "not in Salesforce", message)
