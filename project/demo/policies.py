"""Policy numbers in the formats of twenty fictional insurers.

The original use case of mlpipeline: tell a policy's plan from its number
alone. Each issuer writes its numbers in a fixed format, listed in
:data:`ISSUERS`, and the plan is encoded somewhere in it, at a position that
differs between issuers. In a format, the issuer's three-letter prefix comes
first; after it ``P`` is a character of the plan code, ``Y`` of the two-digit
year of issue, ``9`` a serial digit and ``C`` the check character.

Two issuers share the prefix ``NWM`` (one bought the other and kept its
numbering but not its length), so the prefix alone does not tell them
apart. Every issuer sells five plans, a hundred plans in all. The check
character is the sum of the base-36 values of the other characters,
modulo 36.

Policies change plans: 2% of the numbers were converted to another plan of
the same issuer after they were issued, and kept their number, so no model
can be right about every policy.

Nothing here is a real insurer's format.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

__all__ = ["ISSUERS", "PLANS", "generate_policies"]

_DIGITS36 = string.digits + string.ascii_uppercase

#: Share of policies converted to another plan of their issuer.
CONVERTED = 0.02

#: (prefix, issuer name, format, plan codes with their plan names).
ISSUERS: list[tuple[str, str, str, dict[str, str]]] = [
    ("NWM", "Northwind Mutual", "NWMPYY99999C", {
        "T": "Term", "W": "Whole life", "U": "Universal", "E": "Endowment",
        "A": "Annuity"}),
    ("NWM", "Northwind Mutual Heritage", "NWMPYY99999999C", {
        "T": "Term", "W": "Whole life", "U": "Universal", "E": "Endowment",
        "A": "Annuity"}),
    ("BLF", "Bluefjord Life", "BLFYY9PP9999C", {
        "10": "Level term", "20": "Decreasing term", "31": "Family income",
        "42": "Critical illness", "55": "Funeral plan"}),
    ("ORC", "Orchard Assurance", "ORC99999P9999C", {
        "H": "Home", "C": "Contents", "L": "Landlord", "B": "Buildings",
        "R": "Renters"}),
    ("KST", "Kestrel Motor", "KSTP99999999", {
        "1": "Third party", "2": "Third party fire and theft",
        "3": "Comprehensive", "4": "Fleet", "5": "Classic car"}),
    ("HLX", "Helix Health", "HLXYYPP999999999C", {
        "GP": "GP cover", "HS": "Hospital", "DN": "Dental", "OP": "Optical",
        "FM": "Family health"}),
    ("MRN", "Marina Marine", "MRNP999999", {
        "Y": "Yacht", "D": "Dinghy", "C": "Cargo", "H": "Hull",
        "P": "Protection and indemnity"}),
    ("QTZ", "Quartz Commercial", "QTZ9999YYP99C", {
        "O": "Office", "S": "Shop", "F": "Factory", "W": "Warehouse",
        "R": "Restaurant"}),
    ("ALD", "Alder Travel", "ALDPP99999", {
        "ST": "Single trip", "AM": "Annual multi-trip", "BP": "Backpacker",
        "WS": "Winter sports", "CR": "Cruise"}),
    ("VNT", "Vantage Pet", "VNTYYP9999999C", {
        "D": "Dog", "C": "Cat", "E": "Exotic", "H": "Horse", "L": "Lifetime"}),
    ("SLM", "Solstice Mortgage Protection", "SLMP9999999999999", {
        "1": "Level cover", "2": "Decreasing cover", "3": "Joint cover",
        "4": "Payment protection", "5": "Buy to let"}),
    ("GRN", "Granite Pension", "GRNYY99999PP9", {
        "SP": "Self-invested", "GP": "Group personal", "ST": "Stakeholder",
        "DR": "Drawdown", "AN": "Annuity purchase"}),
    ("FRW", "Farrow Farm Mutual", "FRW9P9999", {
        "L": "Livestock", "C": "Crops", "M": "Machinery", "B": "Barns",
        "E": "Employers liability"}),
    ("CBT", "Cobalt Cyber", "CBTPYY999999999999C", {
        "S": "Small business", "M": "Mid market", "E": "Enterprise",
        "R": "Ransomware", "D": "Data breach"}),
    ("TDL", "Tidal Flood Re", "TDL999P", {
        "A": "Zone A", "B": "Zone B", "C": "Zone C", "D": "Zone D",
        "E": "Zone E"}),
    ("PRM", "Primrose Wedding", "PRMYYP9999C", {
        "V": "Venue", "A": "Attire", "R": "Rings", "P": "Photography",
        "F": "Full event"}),
    ("LNX", "Lynx Legal Expenses", "LNX99PP99999", {
        "EM": "Employment", "PI": "Personal injury", "CO": "Consumer",
        "PR": "Property", "TX": "Tax"}),
    ("DRF", "Driftwood Caravan", "DRFP99YY9999999C", {
        "S": "Static", "T": "Touring", "M": "Motorhome", "A": "Awning",
        "P": "Park home"}),
    ("ZEN", "Zenith Gadget", "ZEN9999999999P", {
        "P": "Phone", "L": "Laptop", "T": "Tablet", "W": "Watch",
        "C": "Camera"}),
    ("ECH", "Echo Event", "ECHPP9YY99999999C", {
        "CN": "Concert", "SP": "Sports", "CF": "Conference", "FS": "Festival",
        "EX": "Exhibition"}),
]  # fmt: skip

#: Every plan, named "<issuer>: <plan>".
PLANS: list[str] = [
    f"{name}: {plan}" for _, name, _, codes in ISSUERS for plan in codes.values()
]


def _check_character(text: str) -> str:
    return _DIGITS36[sum(_DIGITS36.index(char) for char in text) % 36]


def _number(prefix: str, fmt: str, code: str, rng: random.Random) -> str:
    codes = iter(code)
    year = iter(f"{rng.randint(0, 25):02d}")
    chars = [prefix]
    for symbol in fmt.removeprefix(prefix):
        if symbol == "P":
            chars.append(next(codes))
        elif symbol == "Y":
            chars.append(next(year))
        elif symbol == "9":
            chars.append(rng.choice(string.digits))
        elif symbol == "C":
            chars.append(_check_character("".join(chars)))
        else:
            chars.append(symbol)
    return "".join(chars)


def generate_policies(count: int, *, seed: int = 2015) -> Iterator[tuple[str, str]]:
    """Yield ``count`` distinct (policy number, plan) pairs, reproducibly.

    Plans are drawn with unequal weights (some plans sell more than others)
    from a generator seeded with ``seed``.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, not {count!r}.")
    rng = random.Random(seed)
    plans = [
        (prefix, fmt, code, f"{name}: {plan}")
        for prefix, name, fmt, codes in ISSUERS
        for code, plan in codes.items()
    ]
    weights = [1 + (index * 7) % 5 for index in range(len(plans))]
    seen: set[str] = set()
    while len(seen) < count:
        index = rng.choices(range(len(plans)), weights)[0]
        prefix, fmt, code, plan = plans[index]
        number = _number(prefix, fmt, code, rng)
        if number in seen:
            continue
        seen.add(number)
        if rng.random() < CONVERTED:
            issuer = index - index % 5
            plan = plans[issuer + (index - issuer + rng.randint(1, 4)) % 5][3]
        yield number, plan
