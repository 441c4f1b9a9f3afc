"""A reproducible, realistic ATS Store and the Salesforce org that already knows some of it.

:func:`generate` is pure: the same ``seed``, ``orders`` and ``as_of`` give the same data. It makes

* the two seed scenarios exactly (``../shared/seeds``): guest Garth Markey of Markey Metals,
  and registered Eric Sefton of Sefton Services, Inc. with eCommerce order 420;
* registered customers and guests (about a third of the orders are guest orders, customer 0),
  companies shared by several buyers, buyers without a company, names with apostrophes and
  accents, several orders per returning buyer, dates spread over the last ``days`` days;
* an org holding CSR users, the eCommerce queue (from the metadata), and accounts and
  contacts for some of the same companies and people — typed by CSRs, so spelled a little
  differently and without any BigCommerce key — some with an assigned CSR.

:func:`load` writes the data through the store's and org's own database APIs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from faker import Faker

from sandbox.config import SandboxConfig, SandboxCredentials

SEED_ORDER_SEFTON = 420
SEED_GUEST_EMAIL = "garth.markey@markeymetals.com"
FIRST_ORDER_ID = 100
GUEST_SHARE = 1 / 3
CUSTOMER_GROUPS = [
    {"id": 1, "name": "eCommerce Retail"},
    {"id": 2, "name": "eCommerce Industrial"},
    {"id": 3, "name": "eCommerce Distributor"},
]
# Accented and apostrophe names that Faker's en_US rarely gives, mixed in on purpose.
_AWKWARD_NAMES = [
    ("Seán", "O'Brien"), ("Zoë", "D'Angelo"), ("José", "Muñoz"), ("Renée", "Lefèvre"),
    ("Jürgen", "Müller"), ("Siobhán", "O'Neill"), ("François", "L'Écuyer"), ("Björn", "Ångström"),
]  # fmt: skip
_PARTS = [
    ("Servo Drive 2kW", "SRV-2000", "1249.0000"), ("Proximity Sensor M18", "PRX-M18", "48.5000"),
    ("PLC I/O Module 16ch", "PLC-IO16", "389.9500"), ("Hydraulic Pump Seal Kit", "HYD-SK12", "72.2500"),
    ("Spindle Bearing 7014", "BRG-7014", "215.0000"), ("Encoder Cable 10m", "ENC-C10", "96.0000"),
    ("Coolant Pump 0.5HP", "CLT-P05", "412.7500"), ("Touch Panel 7in HMI", "HMI-07", "689.0000"),
    ("Contactor 40A 24VDC", "CNT-40A", "64.8000"), ("Linear Guide Block", "LGB-25", "133.4000"),
    ("Ball Screw Nut 32mm", "BSN-32", "178.0000"), ("Power Supply 24V 10A", "PSU-2410", "121.5500"),
]  # fmt: skip
_STATUSES = [(11, "authorized"), (11, "authorized"), (9, "captured"), (2, "captured"), (10, "captured"),
             (7, "pending"), (1, "pending")]  # fmt: skip
CSR_USERS = [
    ("Dana", "Whitfield"),
    ("Marcus", "Oyelaran"),
    ("Priya", "Raman"),
    ("Tom", "Kowalczyk"),
]
_LEGAL = [", Inc.", " Inc", " LLC", " Co.", ", Ltd.", " Corp", ""]


@dataclass
class SandboxData:
    """Everything :func:`generate` makes (store records in API shape, org records in sObject shape)."""

    customer_groups: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    users: list[dict[str, Any]]
    accounts: list[dict[str, Any]]  # may carry "_assigned_csr": index into users
    contacts: list[dict[str, Any]]  # carry "_account": index into accounts
    summary: dict[str, int] = field(default_factory=dict)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


@dataclass
class Person:
    first: str
    last: str
    email: str
    company: str
    phone: str
    street: str
    city: str
    state: str
    zip: str
    customer_id: int = 0  # 0 = guest
    group_id: int = 0


_LOCALES = ["en_US", "en_US", "en_US", "en_GB", "fr_FR", "de_DE"]
#: Values drawn from Faker once per builder, then picked from: Faker's weighted picks cost tens of
#: microseconds each, which made a 100k-order store take over half a minute.
_POOL = 1500


class Builder:
    """Seeded source of people, companies, addresses and moments for one generated store."""

    def __init__(self, seed: int, as_of: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker(_LOCALES)
        self.fake.seed_instance(seed)
        self.en = self.fake["en_US"]
        self.as_of = as_of
        self.days = days
        self.emails: set[str] = set()
        self._names: dict[str, tuple[list[str], list[str]]] = {}
        self._addresses: list[tuple[str, str, str, str]] = []

    def _name(self) -> tuple[str, str]:
        locale = self.rng.choice(_LOCALES)
        if locale not in self._names:
            fake = self.fake[locale]
            self._names[locale] = ([fake.first_name() for _ in range(_POOL)], [fake.last_name() for _ in range(_POOL)])
        firsts, lasts = self._names[locale]
        return self.rng.choice(firsts), self.rng.choice(lasts)

    def _address(self) -> tuple[str, str, str, str]:
        if not self._addresses:
            en = self.en
            self._addresses = [(en.street_address(), en.city(), en.state(), en.postcode()) for _ in range(_POOL)]
        return self.rng.choice(self._addresses)

    def company_pool(self, n: int) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < n:
            base = self.en.company().split(",")[0].replace(" and ", " & ")
            if base.lower() in seen:
                continue
            seen.add(base.lower())
            # Faker names often carry a legal form already ("Martinez LLC"); don't stack another.
            has_form = base.rsplit(" ", 1)[-1].rstrip(".") in {"LLC", "Ltd", "Inc", "PLC", "Group", "Corp", "and Sons"}
            names.append(base if has_form else base + self.rng.choice(_LEGAL))
        return names

    def person(self, company: str) -> Person:
        rng = self.rng
        first, last = rng.choice(_AWKWARD_NAMES) if rng.random() < 0.05 else self._name()
        domain = (
            "".join(ch for ch in company.lower().split(",")[0] if ch.isalnum())[:20] + ".com"
            if company
            else self.rng.choice(["gmail.com", "outlook.com", "yahoo.com", "icloud.com"])
        )
        local = "".join(ch for ch in f"{first[0]}{last}".lower() if ch.isascii() and ch.isalnum()) or "buyer"
        email = f"{local}@{domain}"
        n = 2
        while email in self.emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.emails.add(email)
        street, city, state, postcode = self._address()
        phone = f"({rng.randrange(200, 1000)}) {rng.randrange(200, 1000)}-{rng.randrange(10_000):04d}"
        return Person(
            first=first,
            last=last,
            email=email,
            company=company,
            phone=phone if rng.random() < 0.8 else "",
            street=street,
            city=city,
            state=state,
            zip=postcode,
        )

    def moment(self, not_before: datetime | None = None) -> datetime:
        start = not_before or (self.as_of - timedelta(days=self.days))
        span = max(int((self.as_of - start).total_seconds()), 1)
        return start + timedelta(seconds=self.rng.randrange(span))


def make_customer(p: Person, created: datetime) -> dict[str, Any]:
    address = {
        "first_name": p.first, "last_name": p.last, "company": p.company, "address1": p.street,
        "address2": "", "city": p.city, "state_or_province": p.state, "postal_code": p.zip,
        "country": "United States", "country_code": "US", "phone": p.phone,
        "address_type": "commercial" if p.company else "residential",
    }  # fmt: skip
    return {
        "id": p.customer_id, "email": p.email, "first_name": p.first, "last_name": p.last,
        "company": p.company, "phone": p.phone, "customer_group_id": p.group_id, "notes": "",
        "registration_ip_address": "", "tax_exempt_category": "", "date_created": created,
        "date_modified": created, "addresses": [address],
        "accepts_product_review_abandoned_cart_emails": False, "origin_channel_id": 1, "channel_ids": [1],
    }  # fmt: skip


def make_order(b: Builder, order_id: int, p: Person, created: datetime) -> dict[str, Any]:
    rng = b.rng
    lines = rng.sample(_PARTS, rng.randint(1, 4))
    products, subtotal = [], Decimal(0)
    for i, (name, sku, price) in enumerate(lines):
        qty = rng.randint(1, 5)
        line_total = Decimal(price) * qty
        subtotal += line_total
        products.append({
            "id": order_id * 10 + i, "order_id": order_id, "product_id": 1000 + _PARTS.index((name, sku, price)),
            "name": name, "sku": sku, "quantity": qty, "base_price": price, "price_ex_tax": price,
            "price_inc_tax": price, "total_ex_tax": _money(line_total), "total_inc_tax": _money(line_total),
        })  # fmt: skip
    shipping = Decimal(rng.choice(["0", "12.5", "24.95", "49"]))
    tax = (subtotal * Decimal("0.07")).quantize(Decimal("0.01"))
    status_id, payment_status = rng.choice(_STATUSES)
    modified = b.moment(created) if rng.random() < 0.3 else created
    address = {
        "first_name": p.first, "last_name": p.last, "company": p.company, "street_1": p.street, "street_2": "",
        "city": p.city, "state": p.state, "zip": p.zip, "country": "United States", "country_iso2": "US",
        "phone": p.phone, "email": p.email,
    }  # fmt: skip
    return {
        "id": order_id, "customer_id": p.customer_id, "date_created": created, "date_modified": modified,
        "status_id": status_id, "payment_status": payment_status, "payment_method": "Credit Card",
        "subtotal_ex_tax": _money(subtotal), "subtotal_inc_tax": _money(subtotal + tax),
        "subtotal_tax": _money(tax), "base_shipping_cost": _money(shipping),
        "shipping_cost_ex_tax": _money(shipping), "shipping_cost_inc_tax": _money(shipping),
        "total_ex_tax": _money(subtotal + shipping), "total_inc_tax": _money(subtotal + shipping + tax),
        "total_tax": _money(tax), "items_total": sum(pr["quantity"] for pr in products),
        "currency_code": "USD", "billing_address": address, "products": products,
        "shipping_addresses": [{**address, "id": order_id, "order_id": order_id,
                                "shipping_method": "Ship by Weight", "base_cost": _money(shipping)}],
    }  # fmt: skip


def seed_people() -> tuple[Person, Person]:
    garth = Person("Garth", "Markey", SEED_GUEST_EMAIL, "Markey Metals", "(216) 555-0148",
                    "4410 Industrial Pkwy", "Cleveland", "Ohio", "44135")  # fmt: skip
    eric = Person("Eric", "Sefton", "eric.sefton@seftonservices.com", "Sefton Services, Inc.", "(614) 555-0199",
                   "77 Commerce Dr", "Columbus", "Ohio", "43215", customer_id=1, group_id=1)  # fmt: skip
    return garth, eric


def generate(orders: int = 300, seed: int = 20261123, as_of: datetime | None = None, days: int = 60) -> SandboxData:
    """Make a store with about ``orders`` orders (at least the two seed orders) and its org."""
    as_of = (as_of or datetime.now(UTC)).replace(microsecond=0)
    b = Builder(seed, as_of, days)
    rng = b.rng
    garth, eric = seed_people()
    b.emails.update({garth.email, eric.email})
    n_other = max(orders - 2, 0)
    n_guest_orders = round(n_other * GUEST_SHARE)
    n_registered_orders = n_other - n_guest_orders
    n_customers = max(1, round(n_registered_orders / 2.2)) if n_registered_orders else 0
    companies = b.company_pool(max(3, (n_customers + n_guest_orders) // 3))

    def pick_company() -> str:
        return "" if rng.random() < 0.25 else rng.choice(companies)

    customers: list[dict[str, Any]] = [make_customer(eric, as_of - timedelta(hours=3))]
    registered: list[Person] = []
    for i in range(n_customers):
        p = b.person(pick_company())
        p.customer_id, p.group_id = i + 2, rng.choice(CUSTOMER_GROUPS)["id"]
        registered.append(p)
        customers.append(make_customer(p, b.moment()))
    created_at = {c["id"]: c["date_created"] for c in customers}

    buyers: list[Person] = [rng.choice(registered) for _ in range(n_registered_orders)] if registered else []
    returning = n_guest_orders // 20
    guests = [b.person(pick_company()) for _ in range(n_guest_orders - returning)]
    buyers += guests
    # A few guests come back as guests with the same email in another case: one Contact (R3).
    for g in rng.sample(guests, min(returning, len(guests))):
        buyers.append(Person(**{**g.__dict__, "email": g.email.upper()}))
    rng.shuffle(buyers)

    order_rows: list[dict[str, Any]] = []
    next_id = FIRST_ORDER_ID
    for p in buyers:
        if next_id == SEED_ORDER_SEFTON:
            next_id += 1
        not_before = created_at.get(p.customer_id) if p.customer_id else None
        order_rows.append(make_order(b, next_id, p, b.moment(not_before)))
        next_id += 1
    order_rows.append(make_order(b, SEED_ORDER_SEFTON, eric, as_of - timedelta(hours=2)))
    garth_order = make_order(b, next_id, garth, as_of - timedelta(hours=1))
    garth_order.update(status_id=11, payment_status="authorized")
    order_rows.append(garth_order)
    order_rows.sort(key=lambda o: o["id"])

    users = [
        {"FirstName": f, "LastName": last, "Username": f"{f.lower()}.{last.lower()}@ats.example",
         "Email": f"{f.lower()}.{last.lower()}@ats.example", "Alias": (f[0] + last[:4]).lower(), "Title": "CSR"}
        for f, last in CSR_USERS
    ]  # fmt: skip
    accounts, contacts = _org_records(b, registered + guests)
    return SandboxData(
        customer_groups=CUSTOMER_GROUPS,
        customers=customers,
        orders=order_rows,
        users=users,
        accounts=accounts,
        contacts=contacts,
        summary={
            "customers": len(customers),
            "orders": len(order_rows),
            "guest_orders": sum(1 for o in order_rows if o["customer_id"] == 0),
            "org_accounts": len(accounts),
            "org_contacts": len(contacts),
        },
    )


def _org_records(b: Builder, people: list[Person]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accounts and contacts CSRs entered before the integration: about a fifth of the buyers."""
    rng = b.rng
    accounts: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    account_of: dict[str, int] = {}
    known = rng.sample(people, len(people) // 5) if people else []
    for p in sorted(known, key=lambda q: q.email):
        key = p.company.lower() or p.email
        if key not in account_of:
            # CSRs type company names their own way: case and punctuation differ from checkout.
            name = p.company.upper().replace(",", "") if p.company and rng.random() < 0.3 else p.company
            account = {
                "Name": name or f"{p.first} {p.last}", "Phone": p.phone or None,
                "BillingStreet": p.street, "BillingCity": p.city, "BillingState": p.state,
                "BillingPostalCode": p.zip, "BillingCountry": "United States",
                "Repair_Account_Status__c": "Active", "Repair_Account_Terms__c": rng.choice(["Pre-Pay", "Pay by PO"]),
            }  # fmt: skip
            if rng.random() < 0.5:
                account["_assigned_csr"] = rng.randrange(len(CSR_USERS))
            account_of[key] = len(accounts)
            accounts.append(account)
        contacts.append({
            "FirstName": p.first, "LastName": p.last, "Phone": p.phone or None,
            # Some CSRs typed the email in another case; matching must not care (R3).
            "Email": p.email.title() if rng.random() < 0.2 else p.email, "_account": account_of[key],
        })  # fmt: skip
    return accounts, contacts


def seed(config: SandboxConfig, orders: int, seed: int = 20261123, as_of: datetime | None = None) -> dict[str, int]:
    """Generate a store of ``orders`` orders and its org into the (empty) sandbox of ``config``."""
    config.home.mkdir(parents=True, exist_ok=True)
    credentials = SandboxCredentials.load_or_create(config)
    data = generate(orders=orders, seed=seed, as_of=as_of)
    return load(data, config.store_db, config.org_db, credentials.sf_username)


def load(data: SandboxData, store_db: Path, org_db: Path, integration_username: str) -> dict[str, int]:
    """Write ``data`` into the store and org databases (which must be empty)."""
    from sandbox.org.records import OrgDB
    from sandbox.store.db import StoreDB

    store = StoreDB(store_db)
    store.insert_customer_groups(data.customer_groups)
    store.insert_customers(data.customers)
    store.insert_orders(data.orders)

    org = OrgDB(org_db, username=integration_username)
    user_ids = org.insert("User", data.users)
    accounts = []
    for a in data.accounts:
        row = {k: v for k, v in a.items() if not k.startswith("_")}
        if "_assigned_csr" in a:
            row["Assigned_CSR__c"] = user_ids[a["_assigned_csr"]]
        accounts.append(row)
    account_ids = org.insert("Account", accounts)
    org.insert(
        "Contact",
        [{**{k: v for k, v in c.items() if not k.startswith("_")}, "AccountId": account_ids[c["_account"]]}
         for c in data.contacts],
    )  # fmt: skip
    return data.summary
