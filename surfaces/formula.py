"""A small, safe parser from formula text to a sympy expression.

The text never reaches Python's evaluator or sympy's string parser: a
tokenizer and a recursive-descent parser build a tiny syntax tree, which is
checked (size, nesting, exponents, constants) and only then turned into sympy
objects. Every rejection is a ``FormulaError`` whose message points at the
column where the problem is.

sympy's exact arithmetic is where hostile input would hang (2^(x - 10^15)
makes it compute 2^(10^15)), so numbers beyond ``EXACT_LIMIT`` and constant
subexpressions that are not small become floats, powers with a variable
exponent are written exp(b log a), and functions that sympy cannot prove
real are declared real (a surface is real-valued; NumPy gives NaN outside).

Grammar (``^`` and ``**`` are the same operator, right-associative)::

    sum     := product (("+" | "-") product)*
    product := signed (("*" | "/") signed | power)*     # juxtaposition multiplies: 2x, x y, (x+1)(y-1)
    signed  := ("-" | "+") signed | power
    power   := atom (("^" | "**") signed)?
    atom    := number | name | function "(" sum ")" | "(" sum ")"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import sympy

MAX_LENGTH = 500
MAX_DEPTH = 40
MAX_NODES = 300
MAX_EXPONENT = 100
#: exp inside exp inside exp already overflows a float on most windows
MAX_EXP_NESTING = 2
MAX_LITERAL = 1e15
#: integers and fraction parts beyond this are kept as floats, so sympy never does exact big-number work
EXACT_LIMIT = 1000


class SurfaceError(ValueError):
    """A surface, window or start point a user asked for is not usable; the message says why."""


class FormulaError(SurfaceError):
    """A formula cannot be read or is not a usable loss surface; ``column`` is 1-based, or None."""

    def __init__(self, message: str, text: str | None = None, column: int | None = None):
        self.reason = message
        self.text = text
        self.column = column
        if text is not None and column is not None and len(text) <= 120:
            message = f"{message} (column {column}):\n  {text}\n  {' ' * (column - 1)}^"
        elif column is not None:
            message = f"{message} (column {column})"
        super().__init__(message)


# sympy cannot prove log(y), asin(x), acos(x) or x^(1/3) real (y may be negative, |x| may exceed 1)
# and then works with their real and imaginary parts: deciding whether cosh(log(x)^100) is positive
# expands (a + i b)^100, which takes seconds to minutes. A surface is real-valued by definition
# (outside the real domain NumPy gives NaN, which counts as undefined), so these functions say so.
# The class names stay those of sympy's functions because code printers look functions up by name.


class _RealValued:
    """Mixin: the function is real wherever it is defined (NaN elsewhere), so sympy need not split it."""

    def _eval_is_extended_real(self):
        return True

    def as_real_imag(self, deep=True, **hints):
        return (self, sympy.S.Zero)


class log(_RealValued, sympy.log):
    """Natural logarithm, taken as real-valued."""


class asin(_RealValued, sympy.asin):
    """Arcsine, taken as real-valued."""


class acos(_RealValued, sympy.acos):
    """Arccosine, taken as real-valued."""


def real_pow(base, exponent):
    """Return ``base ** exponent``: a plain power where it is real everywhere, else a RealPow."""
    if exponent.is_Integer or base.is_extended_nonnegative:
        return base**exponent
    return RealPow(base, exponent)


class RealPow(_RealValued, sympy.Function):
    """``base ** exponent`` for a constant non-integer exponent, taken as real-valued (NaN where base < 0).

    Build it with ``real_pow``, which keeps plain powers where they are real.
    """

    nargs = 2

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        base, exponent = self.args
        return exponent * real_pow(base, exponent - 1)

    def _numpycode(self, printer, **kwargs) -> str:
        # NumPy's power gives NaN for a negative base. The outer parentheses matter: the printer
        # takes a function call's code for an atom, so sqrt(x)^2 printed bare was (x)**(1/2)**2,
        # which Python reads as x**(1/4) (** groups from the right)
        base, exponent = self.args
        return f"(({printer._print(base)})**({printer._print(exponent)}))"

    def _pythoncode(self, printer, **kwargs) -> str:
        # On Python floats ** turns a negative base complex, which math's functions then refuse
        # with a TypeError; math.pow raises ValueError ("math domain error") like math.sqrt and
        # math.log outside their domain, which trace reads as leaving the domain.
        base, exponent = self.args
        return f"{printer._module_format('math.pow')}({printer._print(base)}, {printer._print(exponent)})"

    def _latex(self, printer, exp=None, **kwargs):
        tex = printer._print(sympy.Pow(*self.args, evaluate=False))
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _sympystr(self, printer, **kwargs):
        return printer._print(sympy.Pow(*self.args, evaluate=False))


def _sqrt(a):
    return real_pow(a, sympy.Rational(1, 2))


def _abs(a):
    # sympy differentiates Abs(f) through re(f) and im(f) unless it can prove f real
    return sympy.Abs(a) if a.is_extended_real else _sqrt(a**2)


def _sigmoid(a):
    return 1 / (1 + sympy.exp(-a))


def _softplus(a):
    return log(1 + sympy.exp(a))


def _math_sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def _math_softplus(v):
    return math.log1p(math.exp(v))


#: name -> (sympy builder, float evaluator for constant arguments, grows like an exponential)
FUNCTIONS: dict[str, tuple] = {
    "sin": (sympy.sin, math.sin, False),
    "cos": (sympy.cos, math.cos, False),
    "tan": (sympy.tan, math.tan, False),
    "exp": (sympy.exp, math.exp, True),
    "log": (log, math.log, False),
    "ln": (log, math.log, False),
    "sqrt": (_sqrt, math.sqrt, False),
    "abs": (_abs, abs, False),
    "tanh": (sympy.tanh, math.tanh, False),
    "sinh": (sympy.sinh, math.sinh, True),
    "cosh": (sympy.cosh, math.cosh, True),
    "arctan": (sympy.atan, math.atan, False),
    "atan": (sympy.atan, math.atan, False),
    "arcsin": (asin, math.asin, False),
    "asin": (asin, math.asin, False),
    "arccos": (acos, math.acos, False),
    "acos": (acos, math.acos, False),
    "sigmoid": (_sigmoid, _math_sigmoid, False),
    "softplus": (_softplus, _math_softplus, False),
}

CONSTANTS = {"pi": (sympy.pi, math.pi), "e": (sympy.E, math.e)}

X = sympy.Symbol("x", real=True)
Y = sympy.Symbol("y", real=True)
XY_VARIABLES = {"x": X, "y": Y}

# Students paste formulas from documents; these look like the ASCII operators.
_LOOKALIKES = str.maketrans({"−": "-", "–": "-", "×": "*", "·": "*", "÷": "/"})

_TOKEN = re.compile(
    r"""(?P<space>[ \t]+)
      | (?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>\*\*|[-+*/^()])""",
    re.VERBOSE | re.ASCII,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op" or "end"
    text: str
    column: int  # 1-based


def tokenize(text: str) -> list[Token]:
    """Return the tokens of ``text`` followed by an ``end`` token, or raise FormulaError."""
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = ""
            if ch == ",":
                hint = "; functions take one argument and decimals use a point, like 0.5"
            elif ch in "[]{}":
                hint = "; use round brackets ( )"
            elif ch == ".":
                hint = "; a point must be part of a number, like 0.5"
            raise FormulaError(f"unexpected character {ch!r}{hint}", text, pos + 1)
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# -- syntax tree ---------------------------------------------------------------
# Nodes are tuples (kind, column, ...): ("num", col, Fraction), ("var", col, name),
# ("const", col, name), ("neg", col, a), ("bin", col, op, a, b), ("call", col, name, a).


class _Parser:
    def __init__(self, text: str, variables: dict):
        self.text = text
        self.variables = variables
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    def error(self, message: str, column: int):
        raise FormulaError(message, self.text, column)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def node(self, *parts):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.error(f"the formula is too long (more than {MAX_NODES} numbers, names and operations)", parts[1])
        return parts

    def enter(self, column: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.error(f"the formula is nested too deeply (more than {MAX_DEPTH} levels)", column)

    def parse(self):
        if self.tok.kind == "end":
            self.error("the formula is empty; try something like x^2 + 3*y^2", 1)
        tree = self.sum()
        if self.tok.kind != "end":
            t = self.tok
            if t.text == ")":
                self.error("this ')' has no matching '('", t.column)
            self.error(f"unexpected {t.text!r}", t.column)
        return tree

    def sum(self):
        left = self.product()
        while self.tok.text in ("+", "-"):
            op = self.advance()
            right = self.product()
            left = self.node("bin", op.column, op.text, left, right)
        return left

    def product(self):
        left = self.signed()
        while True:
            t = self.tok
            if t.text in ("*", "/"):
                self.advance()
                right = self.signed()
                left = self.node("bin", t.column, t.text, left, right)
            elif t.kind == "name" or t.text == "(":
                right = self.power()
                left = self.node("bin", t.column, "*", left, right)
            elif t.kind == "num":
                self.error(f"a number cannot follow directly here; write * (multiply) or ^ (power) before {t.text}",
                           t.column)
            else:
                return left

    def signed(self):
        t = self.tok
        if t.text in ("-", "+"):
            self.enter(t.column)
            self.advance()
            operand = self.signed()
            self.depth -= 1
            return self.node("neg", t.column, operand) if t.text == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        t = self.tok
        if t.text in ("^", "**"):
            self.enter(t.column)
            self.advance()
            exponent = self.signed()
            self.depth -= 1
            return self.node("bin", t.column, "^", base, exponent)
        return base

    def atom(self):
        t = self.tok
        if t.kind == "num":
            self.advance()
            return self.node("num", t.column, self.number(t))
        if t.kind == "name":
            self.advance()
            return self.name(t)
        if t.text == "(":
            self.enter(t.column)
            self.advance()
            inner = self.sum()
            self.close(t)
            self.depth -= 1
            return inner
        if t.kind == "end":
            self.error("the formula ends too early; something is missing after the last operator", t.column)
        if t.text == ")":
            self.error("')' here closes nothing, or something is missing before it", t.column)
        self.error(f"expected a number, x, y or '(' here, not {t.text!r}", t.column)

    def close(self, opening: Token):
        if self.tok.text != ")":
            self.error("this '(' is never closed", opening.column)
        self.advance()

    def number(self, t: Token) -> Fraction:
        mantissa, _, exponent = t.text.lower().partition("e")
        if len(exponent.lstrip("+-")) > 3:
            self.error(f"the number {t.text} is too large or too small", t.column)
        value = Fraction(t.text)
        if abs(value) > MAX_LITERAL:
            self.error(f"the number {t.text} is too large (at most {MAX_LITERAL:g})", t.column)
        if value != 0 and float(value) == 0.0:
            self.error(f"the number {t.text} is too small to represent", t.column)
        return value

    def name(self, t: Token):
        word = t.text
        if word in FUNCTIONS:
            if self.tok.text != "(":
                self.error(f"{word} needs its argument in brackets, like {word}(x)", self.tok.column)
            opening = self.tok
            self.enter(opening.column)
            self.advance()
            if self.tok.text == ")":
                self.error(f"{word}() needs an argument inside the brackets", self.tok.column)
            arg = self.sum()
            self.close(opening)
            self.depth -= 1
            return self.node("call", t.column, word, arg)
        if word in self.variables:
            return self.node("var", t.column, word)
        if word in CONSTANTS:
            return self.node("const", t.column, word)
        # "xy" is unambiguous when every letter is a one-letter variable: read it as x*y.
        if all(ch in self.variables for ch in word):
            tree = self.node("var", t.column, word[0])
            for k, ch in enumerate(word[1:], start=1):
                tree = self.node("bin", t.column + k, "*", tree, self.node("var", t.column + k, ch))
            return tree
        known = ", ".join(list(self.variables) + list(CONSTANTS))
        self.error(
            f"unknown name {word!r}; you can use {known} and the functions {', '.join(FUNCTIONS)}",
            t.column,
        )


# -- checking and building sympy -------------------------------------------------


class _Built(NamedTuple):
    expr: sympy.Expr
    value: float | None  # the float value of a constant, None when x or y appears
    growth: int  # exponentials nested inside each other
    degree: float  # the highest power of a variable once products and powers are multiplied out


def _small_exact(expr: sympy.Expr, value: float) -> bool:
    """Return True when a constant is small and simple enough to stay exact (like 2*pi, sqrt(2), 4/3).

    Function values such as tanh(20) become floats: sympy decides their signs
    by low-precision evaluation and can get 1 - tanh(20) wrong, then fail.
    """
    if abs(value) > EXACT_LIMIT or node_count(expr) > 10 or expr.atoms(sympy.Function):
        return False
    return all(p.exp.is_Rational and abs(p.exp.p) <= 10 and p.exp.q <= 10 for p in expr.atoms(sympy.Pow))


def _tame(expr: sympy.Expr) -> sympy.Expr:
    """Return ``expr`` with every integer or fraction beyond EXACT_LIMIT replaced by its float.

    Exact big numbers are where sympy hangs: asking whether cosh(2^(y - 10^15))
    is positive makes it compute 2^(-10^15) exactly. Floats are evaluated numerically.
    """
    big = {r: sympy.Float(r) for r in expr.atoms(sympy.Rational) if abs(r.p) > EXACT_LIMIT or r.q > EXACT_LIMIT}
    return expr.xreplace(big) if big else expr


class _Builder:
    """Turn a checked syntax tree into sympy, refusing what would hang, overflow or be complex.

    Every check happens before the sympy object is made, because sympy itself
    multiplies out nested powers such as ((2x)^100)^100 exactly, which for a
    few more levels would not finish.
    """

    def __init__(self, text: str, variables: dict):
        self.text = text
        self.variables = variables

    def error(self, message: str, column: int):
        raise FormulaError(message, self.text, column)

    def constant(self, compute, column: int, what: str) -> float:
        """Return ``compute()`` as a finite real float, or reject the formula at ``column``."""
        try:
            v = compute()
        except (OverflowError, ZeroDivisionError, ValueError):
            v = None
        if isinstance(v, complex) or v is None or not math.isfinite(v):
            self.error(f"{what} is not a finite real number", column)
        return v

    def check(self, growth: int, degree: float, column: int, what: str) -> None:
        if growth > MAX_EXP_NESTING:
            self.error(
                f"{what} puts {growth} exponentials inside each other, which overflows every computer "
                f"number; at most {MAX_EXP_NESTING} are allowed",
                column,
            )
        if degree > MAX_EXPONENT:
            self.error(
                f"{what} raises x or y to a power of {degree:g} once multiplied out; "
                f"powers must stay at most {MAX_EXPONENT}",
                column,
            )

    def build(self, node) -> _Built:
        """Return the sympy expression of ``node`` with its constant value, exponential nesting and degree."""
        built = self.build_node(node)
        if built.value is not None and node[0] not in ("num", "const") and not _small_exact(built.expr, built.value):
            # sympy's printers and simplifiers can spend minutes on a constant such as (sin(2) - pi)^100;
            # a constant that is not small and simple is kept as its floating-point value
            return built._replace(expr=sympy.Float(built.value))
        return built._replace(expr=_tame(built.expr))

    def build_node(self, node) -> _Built:
        kind, col = node[0], node[1]
        if kind == "num":
            v = node[2]
            expr = sympy.Integer(v.numerator) if v.denominator == 1 else sympy.Rational(v.numerator, v.denominator)
            return _Built(expr, float(v), 0, 0)
        if kind == "var":
            return _Built(self.variables[node[2]], None, 0, 1)
        if kind == "const":
            expr, value = CONSTANTS[node[2]]
            return _Built(expr, value, 0, 0)
        if kind == "neg":
            a = self.build(node[2])
            return _Built(-a.expr, None if a.value is None else -a.value, a.growth, a.degree)
        if kind == "call":
            return self.call(node[2], self.build(node[3]), col)
        op = node[2]
        a = self.build(node[3])
        b = self.build(node[4])
        if op == "^":
            return self.power(a, b, col)
        both = a.value is not None and b.value is not None
        growth = max(a.growth, b.growth)
        if op in "+-":
            degree = max(a.degree, b.degree)
        else:
            # x^60 * x^60 is x^120 to sympy, and 1/x^60 / x^60 is x^-120
            degree = a.degree + b.degree
        self.check(growth, degree, col, "this product" if op in "*/" else "this sum")
        if op == "+":
            value = self.constant(lambda: a.value + b.value, col, "this sum") if both else None
            return _Built(a.expr + b.expr, value, growth, degree)
        if op == "-":
            value = self.constant(lambda: a.value - b.value, col, "this difference") if both else None
            return _Built(a.expr - b.expr, value, growth, degree)
        if op == "*":
            value = self.constant(lambda: a.value * b.value, col, "this product") if both else None
            return _Built(a.expr * b.expr, value, growth, degree)
        if b.value == 0:
            self.error("division by zero", col)
        value = self.constant(lambda: a.value / b.value, col, "this quotient") if both else None
        return _Built(a.expr / b.expr, value, growth, degree)

    def call(self, fname: str, a: _Built, col: int) -> _Built:
        make, evaluate, grows = FUNCTIONS[fname]
        if a.value is not None:
            value = self.constant(lambda: evaluate(a.value), col, f"{fname}({a.value:g})")
            return _Built(make(a.expr), value, a.growth, 0)
        growth = a.growth + (1 if grows else 0)
        self.check(growth, 1, col, fname)
        # a function's value is a new base: sin(x^50)^2 multiplies nothing out
        return _Built(make(a.expr), None, growth, 1)

    def power(self, a: _Built, b: _Built, col: int) -> _Built:
        if b.value is None:
            if a.value is None or a.value <= 0:
                self.error(
                    "an exponent containing a variable needs a positive number as its base, like e^x or 2^x",
                    col,
                )
            growth = max(a.growth, b.growth + 1)
            self.check(growth, 1, col, "this power")
            # sympy splits 2^(x - 10^15) into 2^x * 2^(-10^15) and computes the second factor exactly;
            # exp(b log a) is the same function and stays unexpanded
            expr = sympy.exp(b.expr) if a.expr == sympy.E else sympy.exp(b.expr * log(a.expr))
            return _Built(expr, None, growth, 1)
        if abs(b.value) > MAX_EXPONENT:
            self.error(
                f"the exponent {b.value:g} is too large; exponents must be between -{MAX_EXPONENT} and {MAX_EXPONENT}",
                col,
            )
        exponent = b.expr
        if not (exponent.is_Rational and exponent.q <= 10):
            # x^(1/10^9) makes sympy search for exact billionth roots of every number in x's product
            exponent = sympy.Float(b.value)
        if a.value is not None:
            if a.value == 0 and b.value < 0:
                self.error("zero to a negative power is a division by zero", col)
            value = self.constant(lambda: a.value**b.value, col, f"{a.value:g}^{b.value:g}")
            return _Built(a.expr**exponent, value, a.growth, 0)
        degree = a.degree * abs(b.value)
        self.check(a.growth, degree, col, "this power")
        return _Built(real_pow(a.expr, exponent), None, a.growth, degree)


def parse_tree(text: str, variables: dict | None = None):
    """Return the checked syntax tree of ``text`` (nested tuples), or raise FormulaError."""
    variables = XY_VARIABLES if variables is None else variables
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    if "\n" in text or "\r" in text:
        raise FormulaError("write the formula on one line")
    return _Parser(text.translate(_LOOKALIKES), variables).parse()


# -- LaTeX of the formula as typed ------------------------------------------------
# The sympy expression is rewritten for safety (2^x becomes exp(x log 2), big
# numbers become floats), so the formula is shown from its syntax tree instead.

_FUNCTION_LATEX = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "log": r"\log", "ln": r"\ln",
    "tanh": r"\tanh", "sinh": r"\sinh", "cosh": r"\cosh",
    "arctan": r"\arctan", "atan": r"\arctan", "arcsin": r"\arcsin", "asin": r"\arcsin",
    "arccos": r"\arccos", "acos": r"\arccos",
}
_SUM, _PRODUCT, _POWER, _ATOM = 1, 2, 3, 4


def number_latex(value: Fraction | float) -> str:
    """Return a number as LaTeX the way a person writes it: ``3``, ``0.001``, ``10^{-8}``, ``2.5 \\cdot 10^{-5}``.

    Six significant digits at most; never the ``1e-08`` of Python's formats, which
    LaTeX would set as the product of e and a difference.
    """
    value = Fraction(value)
    if value.denominator == 1 and abs(value) < 10**7:
        return str(value.numerator)
    text = f"{float(value):.6g}"
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def _latex_node(node) -> tuple[str, int]:
    """Return ``(latex, precedence)`` of a syntax-tree node."""
    kind = node[0]
    if kind == "num":
        tex = number_latex(node[2])
        return tex, (_PRODUCT if r"\cdot" in tex else _POWER if "^" in tex else _ATOM)
    if kind == "var":
        return node[2], _ATOM
    if kind == "const":
        return (r"\pi" if node[2] == "pi" else node[2]), _ATOM
    if kind == "neg":
        return "-" + _wrapped(node[2], _POWER), _SUM
    if kind == "call":
        name, arg = node[2], _latex_node(node[3])[0]
        if name == "sqrt":
            return rf"\sqrt{{{arg}}}", _ATOM
        if name == "abs":
            return rf"\left|{arg}\right|", _ATOM
        if name == "exp":
            return f"e^{{{arg}}}", _POWER
        command = _FUNCTION_LATEX.get(name, rf"\operatorname{{{name}}}")
        return rf"{command}\left({arg}\right)", _ATOM
    op, a, b = node[2], node[3], node[4]
    if op in ("+", "-"):
        return f"{_wrapped(a, _SUM)} {op} {_wrapped(b, _PRODUCT)}", _SUM
    if op == "/":
        return rf"\frac{{{_latex_node(a)[0]}}}{{{_latex_node(b)[0]}}}", _PRODUCT
    if op == "*" and a[0] == "neg":  # (-a) b is -(a b): show it as -a b
        return "-" + _latex_node(("bin", node[1], "*", a[2], b))[0], _SUM
    if op == "*":
        left, right = _wrapped(a, _PRODUCT), _wrapped(b, _POWER if b[0] == "bin" and b[2] == "*" else _PRODUCT)
        joint = r" \cdot " if right[0].isdigit() or right.startswith(r"\frac") else r"\, "
        return left + joint + right, _PRODUCT
    # a power: the base must be an atom, the exponent is set as a superscript
    return f"{_wrapped(a, _ATOM)}^{{{_latex_node(b)[0]}}}", _POWER


def _wrapped(node, needed: int) -> str:
    tex, precedence = _latex_node(node)
    return tex if precedence >= needed else rf"\left({tex}\right)"


def formula_latex(text: str, variables: dict | None = None) -> str:
    """Return LaTeX for ``text`` as the student typed it (brackets only where needed), or raise FormulaError."""
    return _latex_node(parse_tree(text, variables))[0]


def parse_formula(text: str, variables: dict | None = None) -> sympy.Expr:
    """Return the sympy expression that ``text`` describes, or raise FormulaError.

    ``variables`` maps the names allowed in the text to sympy symbols; the
    default is ``x`` and ``y`` (real symbols ``X`` and ``Y``).
    """
    variables = XY_VARIABLES if variables is None else variables
    tree = parse_tree(text, variables)
    clean = text.translate(_LOOKALIKES)
    expr = _Builder(clean, variables).build(tree).expr
    if expr.has(sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise FormulaError("the formula is not a real number everywhere it is defined (it contains an "
                           "imaginary or infinite constant, e.g. a division by zero)", clean)
    for p in expr.atoms(sympy.Pow):
        if p.exp.is_Number and abs(p.exp) > MAX_EXPONENT:
            raise FormulaError(
                f"the formula simplifies to a power {p.exp} higher than {MAX_EXPONENT}; use smaller exponents"
            )
    return expr


def node_count(expr: sympy.Basic) -> int:
    """Return the number of nodes in a sympy expression tree."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


__all__ = [
    "FormulaError", "SurfaceError", "FUNCTIONS", "CONSTANTS", "X", "Y", "XY_VARIABLES",
    "MAX_LENGTH", "MAX_DEPTH", "MAX_NODES", "MAX_EXPONENT", "MAX_EXP_NESTING",
    "tokenize", "parse_tree", "parse_formula", "formula_latex", "number_latex", "node_count",
]
