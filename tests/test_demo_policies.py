import re
from collections import Counter

from project.demo.policies import ISSUERS, PLANS, _check_character, generate_policies


def test_a_hundred_plans_from_twenty_issuers():
    assert len(ISSUERS) == 20
    assert len(PLANS) == len(set(PLANS)) == 100


def test_generation_is_reproducible_and_distinct():
    first = list(generate_policies(2000, seed=3))

    assert first == list(generate_policies(2000, seed=3))
    assert first != list(generate_policies(2000, seed=4))
    assert len({number for number, _ in first}) == 2000


def test_numbers_follow_their_issuer_format_and_check_character():
    formats = {}
    for prefix, name, fmt, _codes in ISSUERS:
        body = fmt[len(prefix) :]
        pattern = prefix + "".join("[0-9A-Z]" if s in "PYC9" else s for s in body)
        formats[name] = re.compile(pattern + "$")
    converted = 0

    rows = list(generate_policies(5000))
    for number, plan in rows:
        issuer = plan.split(": ")[0]
        assert formats[issuer].match(number), (number, plan)
        prefix, _, fmt, codes = next(i for i in ISSUERS if i[1] == issuer)
        if fmt.endswith("C"):
            assert number[-1] == _check_character(number[:-1])
        positions = [i for i, s in enumerate(fmt) if s == "P" and i >= len(prefix)]
        code = "".join(number[i] for i in positions)
        converted += codes[code] != plan.split(": ")[1]

    assert 0.01 < converted / len(rows) < 0.03
    assert len(Counter(plan for _, plan in rows)) == 100
