"""Who is who: the keys that make one Account per company and one Contact per person.

* **Contact key** (rule R3): the buyer's email, trimmed and lower-cased. A guest and the same
  person registered later, and several orders from one buyer, share it.
* **Account key** (rule R2): ``co:`` + :func:`company_norm` of the company typed at checkout
  or on the customer record; without a company, the person's own account ``email:`` + their
  contact key. The prefixes keep a company called like an email address from ever colliding
  with a person. Keys longer than the field (255) keep their start and end in a hash.
* **Account name** (rule R2): the company as typed (of several spellings in a batch, the
  :func:`best_spelling`), else "First Last".

:func:`company_norm` is also what matching uses on the Names of existing Salesforce accounts
(:mod:`transforms.matching`), so "SEFTON SERVICES INC" typed by a CSR meets the checkout's
"Sefton Services, Inc.".
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import pandas as pd

from transforms.text import TEXT, map_unique, truncate_scalar

#: Columns :func:`assign_accounts` adds to buyer rows.
IDENTITY_COLUMNS: tuple[str, ...] = ("contact_key", "account_key", "account_name")
COMPANY_PREFIX = "co:"
PERSON_PREFIX = "email:"
#: Length of BigCommerce_Account_Key__c (deployments/salesforce); the mapping has no limit for keys.
ACCOUNT_KEY_LIMIT = 255

#: Legal-form words dropped from the end of a company name ("Inc.", "L.L.C." once dots are gone...).
LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "llc", "pllc", "llp", "lp", "ltd", "limited", "co", "corp", "corporation",
        "company", "gmbh", "ag", "kg", "plc", "sa", "sarl", "srl", "bv", "nv", "pty", "pte",
    }
)  # fmt: skip
# Words that alone do not name anything: a name is never reduced to only these.
_FILLER = frozenset({"the", "and", "of", "a", "an"})


class _Punctuation(dict[int, Any]):
    """``str.translate`` table for keys, filled lazily per character seen.

    Apostrophes and dots vanish ("O'Brien" = "OBrien", "Inc." = "Inc", "L.L.C." = "LLC"), "&"
    reads "and", other punctuation and symbols (Unicode P* and S*, emoji included) separate
    words. Letters, digits and combining marks stay.
    """

    _VANISH = frozenset("'’‘ʼ`´.")

    def __missing__(self, codepoint: int) -> Any:
        char = chr(codepoint)
        if char in self._VANISH:
            value: Any = None
        elif char == "&":
            value = " and "
        elif unicodedata.category(char)[0] in "PS":
            value = " "
        else:
            value = codepoint
        self[codepoint] = value
        return value


_PUNCTUATION = _Punctuation()


def _fold(text: str) -> str:
    if text.isascii():  # the common case: case folding is lower() and NFKC changes nothing
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _norm_once(text: str) -> str:
    folded = _fold(text)
    tokens = folded.translate(_PUNCTUATION).split()
    if not tokens:  # only punctuation or emoji: keep them rather than an empty key
        return " ".join(folded.split())
    while len(tokens) > 1 and tokens[-1] in LEGAL_SUFFIXES:
        shorter = tokens[:-1]
        while shorter and shorter[-1] == "and":  # "Smith & Co." -> "smith"
            shorter.pop()
        if all(t in _FILLER for t in shorter):  # "The Company Inc" keeps "the company"
            break
        tokens = shorter
    return " ".join(tokens)


def company_norm(text: str) -> str:
    """A company name reduced to what identifies it: case, width, whitespace, punctuation and
    legal-form suffixes do not count; accents do. Never empty for a non-blank name; idempotent.

    >>> company_norm("Sefton Services, Inc."), company_norm(" SEFTON SERVICES INC ")
    ('sefton services', 'sefton services')
    """
    current = _norm_once(text)
    if text.isascii():  # one pass is already a fixed point for ASCII
        return current
    for _ in range(8):  # Unicode folding can need a second pass; stop at the fixed point
        following = _norm_once(current)
        if following == current:
            break
        current = following
    return current


def _fit_key(key: str) -> str:
    if len(key.encode("utf-16-le")) // 2 <= ACCOUNT_KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return truncate_scalar(key, ACCOUNT_KEY_LIMIT - len(digest) - 1) + "~" + digest


def company_keys(companies: pd.Series) -> pd.Series:
    """Account keys of company names (missing where the name is missing)."""
    return map_unique(companies, lambda name: _fit_key(COMPANY_PREFIX + company_norm(name)))


def contact_keys(emails: pd.Series) -> pd.Series:
    """Contact keys of cleaned emails (:func:`transforms.text.clean_scalar`, so already trimmed):
    lower-cased; missing where the email is missing."""
    # Emails are nearly all distinct: a plain vectorised lower() beats cleaning per unique value.
    return emails.str.lower()


def person_account_keys(contact_key: pd.Series) -> pd.Series:
    """The account key of buyers without a company: their own, by their contact key."""
    return PERSON_PREFIX + contact_key


def person_names(first: pd.Series, last: pd.Series) -> pd.Series:
    """ "First Last" (either alone when the other is missing)."""
    both = first.notna() & last.notna()
    return (first + " " + last).where(both, first.fillna(last))


def assign_accounts(rows: pd.DataFrame) -> pd.DataFrame:
    """Buyer rows with ``contact_key``, ``account_key`` and ``account_name`` (this row's candidate).

    ``rows`` has the person columns of :mod:`transforms.people`.
    """
    contact = contact_keys(rows["email"])
    company = rows["company"]
    alone = company.isna()
    # R2: the account is the company typed (keyed by its normalised name), else the person
    # (keyed by their email, named "First Last").
    account = company_keys(company)
    name = company
    if alone.any():
        account = account.copy()
        name = name.copy()
        account[alone] = person_account_keys(contact[alone])
        name[alone] = person_names(rows.loc[alone, "first_name"], rows.loc[alone, "last_name"])
    return rows.assign(contact_key=contact, account_key=account, account_name=name)


def best_spelling(keys: pd.Series, spellings: pd.Series) -> pd.Series:
    """For each key, the spelling typed most often; ties go to mixed case (as a person types a
    name, rather than all caps or all lower case), then to the first in code-point order.

    Returns a Series indexed by key (keys without any spelling are absent).
    """
    given = pd.DataFrame({"key": keys, "spelling": spellings}).dropna()
    counts = given.groupby(["key", "spelling"], sort=False).size().rename("count").reset_index()
    lower = counts["spelling"].str.lower()
    counts["mixed"] = (counts["spelling"] != lower) & (counts["spelling"] != counts["spelling"].str.upper())
    ranked = counts.sort_values(["key", "count", "mixed", "spelling"], ascending=[True, False, False, True])
    best = ranked.drop_duplicates("key")
    return pd.Series(best["spelling"].to_numpy(), index=pd.Index(best["key"], dtype=TEXT), dtype=TEXT)
