#!/usr/bin/env python3
"""Writes the oracle tables the domain tests check Decimal and LedgerAmount against.

The expected values come from Python's own exact arithmetic (the decimal module for literals, sums
and products; fractions.Fraction, whose round() is half-even, for quotients), written from the rules
(DESIGN §3: a number is accepted only if exactly representable), not from the C++ code. The tables
are committed; re-run this script (deterministic, fixed seed) only when a rule changes:
    python3 tests/domain/data/make_oracle_tables.py
Each line is tab-separated: an operation, its inputs, then the expected text or error code.
"""
import decimal
import os
import random
import re
from decimal import Decimal
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
CTX = decimal.Context(prec=5000, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                      traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation])
ROUNDING = decimal.Context(prec=5000, rounding=decimal.ROUND_HALF_EVEN)  # multiply then round once
decimal.setcontext(CTX)
LITERAL = re.compile(r'[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?')
# Decimal: DECIMAL(18,8), units of 1e-8, |units| <= 10^18 - 1.  LedgerAmount: Numeric 10.
DEC = dict(scale=8, max_units=10**18 - 1, name="decimal")
LED = dict(scale=10, max_units=10**38 - 1, name="amount")


def exact_value(literal):
    """The literal's exact value as (sign, coefficient, exponent), exponent an unbounded int."""
    mantissa, _, exp = literal.lower().partition('e')
    sign = -1 if mantissa.startswith('-') else 1
    mantissa = mantissa.lstrip('+-')
    whole, _, frac = mantissa.partition('.')
    return sign, int(whole + frac), (int(exp) if exp else 0) - len(frac)


def parse_oracle(literal, allow_exponent, kind):
    """Expected units, or an error code, for parsing literal."""
    m = LITERAL.fullmatch(literal)
    if not m or (m.group(2) and not allow_exponent):
        return 'invalid_amount' if kind is LED else 'invalid_decimal'
    sign, coeff, exp = exact_value(literal)
    if coeff == 0:
        return 0
    prefix = 'decimal' if kind is DEC else 'amount'
    exp += kind['scale']  # value in units = coeff * 10^exp
    if exp < -10**6 or exp > 10**6:  # far beyond any digit count in these tables
        return prefix + ('_too_precise' if exp < 0 else '_out_of_range')
    units = CTX.multiply(Decimal(coeff), CTX.power(Decimal(10), exp))
    if units != units.to_integral_value():
        return prefix + '_too_precise'
    if abs(units) > kind['max_units']:
        return prefix + '_out_of_range'
    return sign * int(units)


def render(units, scale, min_decimals):
    v = Fraction(units, 10**scale)
    text = format(CTX.divide(Decimal(units), Decimal(10**scale)), 'f')
    whole, _, frac = text.partition('.')
    frac = frac.rstrip('0')
    frac = frac + '0' * max(0, min_decimals - len(frac))
    out = whole.lstrip('-') + ('.' + frac if frac else '')
    return ('-' if v < 0 else '') + out


def rand_digits(rng, n, leading_zero_ok=True):
    return ''.join(rng.choice('0123456789') for _ in range(n))


def random_literal(rng, allow_exponent):
    """Literals of every shape: signs, leading zeros, fractions, exponents, huge, malformed."""
    shape = rng.random()
    sign = rng.choice(['', '', '', '-', '+'])
    if shape < 0.05:  # long mantissas of zeros around a digit, with a balancing exponent
        zeros = rng.choice([20, 100, 1000])
        lead = rng.choice(['1' + '0' * zeros, '0.' + '0' * zeros + '1', '1' + '0' * zeros + '.0'])
        e = rng.choice([zeros, -zeros, zeros + 1, -zeros - 1, zeros - 9, -zeros + 9, -10000, 10000,
                        rng.randint(-2 * zeros, 2 * zeros)])
        return sign + lead + 'e' + str(e)
    whole = rand_digits(rng, rng.choice([0, 1, 1, 2, 3, 4, 5, 8, 9, 10, 10, 11, 12, 18, 20, 29, 40]))
    if rng.random() < 0.2:
        whole = '0' * rng.randint(1, 30) + whole
    frac = None
    if rng.random() < 0.6:
        frac = rand_digits(rng, rng.choice([0, 1, 2, 4, 7, 8, 9, 10, 11, 12, 20, 30]))
        if rng.random() < 0.3:
            frac += '0' * rng.randint(1, 30)
    text = sign + whole + ('.' + frac if frac is not None else '')
    if rng.random() < (0.6 if allow_exponent else 0.1):
        mag = rng.choice([rng.randint(0, 12), rng.randint(0, 40), rng.randint(0, 10**4),
                          10**rng.randint(3, 40) + rng.randint(-3, 3)])
        esign = rng.choice(['', '+', '-', '-'])
        epad = '0' * rng.choice([0, 0, 0, 1, 5])
        text += rng.choice('eE') + esign + epad + str(abs(mag))
    if rng.random() < 0.08:  # damage: a stray, missing or doubled character
        pos = rng.randint(0, len(text))
        text = text[:pos] + rng.choice(['.', 'e', '-', '+', ' ', 'x', ',', '_', '..', 'E+',
                                        '\u00e9', '\u0661', '']) + text[pos:]
    return text


def decimal_parse_cases(rng, n):
    fixed = [('1' + '0' * 1000 + 'e-10000', True), ('0.000000000000000000001e21', True),
             ('1e9', True), ('1e-9', True), ('1e10', True), ('0e999', True),
             ('1' + '0' * 1000 + 'e-1000', True), ('0.' + '0' * 2000 + '1e2001', True),
             ('9999999999.99999999', False), ('-9999999999.99999999e0', True),
             ('99999999999999999999e-10', True), ('1e-99999999999999999999999999', True),
             ('1e99999999999999999999999999', True), ('0e-99999999999999999999999999', True),
             ('1.0E+000000000000000000000000009', True), ('123456789012345678e-8', True)]
    cases = fixed + [(random_literal(rng, a), a) for a in (rng.random() < 0.7 for _ in range(n))]
    for literal, allow in cases:
        r = parse_oracle(literal, allow, DEC)
        yield ['parse', '1' if allow else '0', literal,
               render(r, 8, 8) if isinstance(r, int) else r]


def random_units(rng, max_units, scale):
    c = rng.random()
    if c < 0.1:
        u = rng.choice([0, 1, 2, 3, 5, 10**scale, max_units, max_units - 1])
    elif c < 0.25:
        u = max_units - rng.randint(0, 10**rng.randint(0, 6))
    elif c < 0.45:
        u = rng.randint(0, 10**rng.randint(1, len(str(max_units))))
    elif c < 0.6:
        u = rng.randint(0, 10**rng.randint(0, 6)) * 10**rng.randint(0, scale)
    else:
        u = rng.randint(0, max_units)
    u = min(u, max_units)
    return -u if rng.random() < 0.3 else u


def round_half_even(q):
    return round(q)  # Fraction.__round__ rounds ties to even


def checked(units, kind):
    return units if abs(units) <= kind['max_units'] else kind['name'] + '_out_of_range'


def decimal_arith_cases(rng, n):
    unit = 10**8
    for _ in range(n):
        a, b, c = (random_units(rng, DEC['max_units'], 8) for _ in range(3))
        if rng.random() < 0.3:  # small operands, where products and quotients fit
            a, b = (random_units(rng, 10**rng.randint(1, 13), 8) for _ in range(2))
        if rng.random() < 0.05:
            b = 0
        if rng.random() < 0.05:
            c = 0
        op = rng.choice(['add', 'sub', 'mul', 'div', 'muldiv'])
        if rng.random() < 0.15:  # exact ties, where half-even differs from half-up
            a = (2 * rng.randint(0, 10**rng.randint(1, 17)) + 1) * rng.choice([1, -1])
            b, c = {'mul': (50000000, 0), 'div': (200000000, 0), 'muldiv': (1, 2)}.get(op, (b, c))
            b = b * rng.choice([1, -1])
        if op == 'add':
            r = checked(a + b, DEC)
        elif op == 'sub':
            r = checked(a - b, DEC)
        elif op == 'mul':
            exact = CTX.multiply(Decimal(a), Decimal(b))
            r = checked(int(ROUNDING.quantize(CTX.divide(exact, Decimal(unit)), Decimal(1))), DEC)
        elif op == 'div':
            r = ('division_by_zero' if b == 0 else
                 checked(round_half_even(Fraction(a * unit, b)), DEC))
        else:
            r = 'division_by_zero' if c == 0 else checked(round_half_even(Fraction(a * b, c)), DEC)
        args = [render(x, 8, 8) for x in (a, b, c)][:3 if op == 'muldiv' else 2]
        yield [op] + args + [render(r, 8, 8) if isinstance(r, int) else r]


def ledger_literal(rng):
    if rng.random() < 0.85:
        sign = rng.choice(['', '', '-', '+'])
        whole = rand_digits(rng, rng.choice([1, 1, 2, 5, 10, 18, 27, 28, 28, 29, 30, 40]))
        if rng.random() < 0.15:
            whole = '0' * rng.randint(1, 12) + whole
        text = sign + whole
        if rng.random() < 0.7:
            text += '.' + rand_digits(rng, rng.choice([1, 2, 8, 9, 10, 10, 11, 12, 20]))
            if rng.random() < 0.2:
                text += '0' * rng.randint(1, 8)
        return text
    return random_literal(rng, True)  # exponents, damage: all must be refused or exact


def ledger_cases(rng, n):
    kind = LED
    fixed = ['123.4500000000', '9' * 28 + '.' + '9' * 10, '1' + '0' * 28, '-' + '9' * 28 + '.' + '9' * 10,
             '0.00000000001', '0.0000000001', '1.00000000000', '0', '-0', '1e3', '7524.00']
    for literal in fixed + [ledger_literal(rng) for _ in range(n)]:
        r = parse_oracle(literal, False, kind)
        if not isinstance(r, int):
            yield ['parse', literal, r]
            continue
        yield ['parse', literal, render(r, 10, 0)]
        yield ['format', literal, render(r, 10, 8), render(r, 10, 10)]
        to_dec = ('decimal_too_precise' if r % 100 else
                  ('decimal_out_of_range' if abs(r // 100) > DEC['max_units'] else render(r // 100, 8, 8)))
        yield ['todecimal', literal, to_dec]
    for _ in range(n):
        a, b, c = (random_units(rng, kind['max_units'], 10) for _ in range(3))
        op = rng.choice(['add', 'sub', 'muldiv', 'muldiv'])
        if op == 'add':
            yield ['add', render(a, 10, 0), render(b, 10, 0), render(checked(a + b, kind), 10, 0)
                   if isinstance(checked(a + b, kind), int) else checked(a + b, kind)]
        elif op == 'sub':
            r = checked(a - b, kind)
            yield ['sub', render(a, 10, 0), render(b, 10, 0), render(r, 10, 0) if isinstance(r, int) else r]
        else:
            if rng.random() < 0.5:  # a pro-rata share: part <= whole, both positive
                c = abs(c) or 1
                b = rng.randint(0, c)
            if rng.random() < 0.03:
                c = 0
            scale = rng.choice([8, 8, 0, 2, 10])
            if rng.random() < 0.2:  # an exact tie at the rounding scale
                r10 = rng.randint(0, 20)
                c, b = 2 * 10**r10, 10**r10 * rng.choice([1, -1])
                a = (2 * rng.randint(0, 10**rng.randint(0, 20)) + 1) * 10**(10 - scale)
            if c == 0:
                r = 'division_by_zero'
            else:
                step = 10**(10 - scale)
                r = checked(round_half_even(Fraction(a * b, c * step)) * step, kind)
            yield ['muldiv', render(a, 10, 0), render(b, 10, 0), render(c, 10, 0), str(scale),
                   render(r, 10, 0) if isinstance(r, int) else r]


def write(name, rows):
    with open(os.path.join(HERE, name), 'w', encoding='utf-8', newline='\n') as f:
        for row in rows:
            assert all('\t' not in x and '\n' not in x for x in row), row
            f.write('\t'.join(row) + '\n')


def main():
    write('decimal_parse.tsv', decimal_parse_cases(random.Random(8), 6000))
    write('decimal_arith.tsv', decimal_arith_cases(random.Random(18), 6000))
    write('ledger_amount.tsv', ledger_cases(random.Random(38), 3000))


if __name__ == '__main__':
    main()
