/* chouyang instrument expressions in the browser: evaluates the JSON trees that
 * chouyang.instruments.expr.to_json makes (there is no second parser), with exactly the
 * semantics written in the docstring of src/chouyang/instruments/expr.py; tests/test_expr.py
 * compares this file with the Python evaluator in node and in Chromium.
 *
 *   chouyangExpr.evaluate(tree, values, dot, todayISO) -> string | number | boolean
 *   chouyangExpr.truthy(value) -> boolean
 *
 * Plain ES2017; a browser global (chouyangExpr) or a CommonJS module (node).
 */
(function (root, factory) {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.chouyangExpr = api;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const NUMERIC = /^[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*$/;
  const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
  const EXPONENT = /^(-?)([0-9])(?:\.([0-9]+))?e([+-][0-9]+)$/;

  class ExprError extends Error {}

  function normalized(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "boolean" || typeof value === "string" || typeof value === "number") return value;
    if (Array.isArray(value)) return value;
    return String(value);
  }

  // Shortest round-trip digits (String() gives them too), always positional: String() switches
  // to an exponent at 1e21 and below 1e-6, Python's repr at other bounds, so neither is used as is.
  function formatNumber(x) {
    if (Number.isNaN(x)) return "NaN";
    if (x === Infinity) return "Infinity";
    if (x === -Infinity) return "-Infinity";
    if (x === 0) return "0";
    const text = String(x);
    const m = EXPONENT.exec(text);
    if (!m) return text;
    const digits = m[2] + (m[3] || "");
    const point = 1 + Number(m[4]);
    let body;
    if (point <= 0) body = "0." + "0".repeat(-point) + digits;
    else if (point >= digits.length) body = digits + "0".repeat(point - digits.length);
    else body = digits.slice(0, point) + "." + digits.slice(point);
    return m[1] + body;
  }

  function toNumber(value) {
    if (typeof value === "boolean") return value ? 1 : 0;
    if (typeof value === "number") return value;
    const m = typeof value === "string" ? NUMERIC.exec(value) : null;
    return m ? Number(m[1]) : NaN;
  }

  function toString(value) {
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "number") return formatNumber(value);
    return typeof value === "string" ? value : "";
  }

  function truthy(value) {
    if (typeof value === "boolean") return value;
    if (typeof value === "number") return !(value === 0 || Number.isNaN(value));
    if (typeof value === "string" || Array.isArray(value)) return value.length > 0;
    return value !== undefined && value !== null;
  }

  function isNumeric(value) {
    return typeof value === "number" || (typeof value === "string" && NUMERIC.test(value));
  }

  function isDate(text) {
    const m = DATE.exec(text);
    if (!m) return false;
    const year = Number(m[1]), month = Number(m[2]), day = Number(m[3]);
    if (year < 1 || month < 1 || month > 12) return false;
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return day >= 1 && day <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  }

  // Python compares str by code point; JS's < compares UTF-16 units, which differ past U+FFFF.
  function compareCodePoints(a, b) {
    let i = 0;
    while (i < a.length && i < b.length) {
      const x = a.codePointAt(i), y = b.codePointAt(i);
      if (x !== y) return x < y ? -1 : 1;
      i += x > 0xffff ? 2 : 1;
    }
    if (i < a.length) return 1;
    return i < b.length ? -1 : 0;
  }

  function order(op, a, b) {
    switch (op) {
      case "=": return a === b;
      case "!=": return a !== b;
      case "<": return a < b;
      case "<=": return a <= b;
      case ">": return a > b;
      default: return a >= b;
    }
  }

  function compare(op, a, b) {
    if (typeof a === "boolean" || typeof b === "boolean") {
      if (op === "=" || op === "!=") return (truthy(a) === truthy(b)) === (op === "=");
      return order(op, toNumber(a), toNumber(b));
    }
    if (isNumeric(a) && isNumeric(b)) return order(op, toNumber(a), toNumber(b));
    const left = toString(a), right = toString(b);
    if (op !== "=" && op !== "!=" && (left === "" || right === "")) return false;
    return order(op, compareCodePoints(left, right), 0);
  }

  function arithmetic(op, x, y) {
    if (op === "+") return x + y;
    if (op === "-") return x - y;
    if (op === "*") return x * y;
    if (y === 0 || Number.isNaN(x) || Number.isNaN(y) || (op === "mod" && !Number.isFinite(x))) return NaN;
    return op === "div" ? x / y : x % y;
  }

  function stored(tree, ctx) {
    if (tree[0] === "ref") {
      return normalized(Object.prototype.hasOwnProperty.call(ctx.values, tree[1]) ? ctx.values[tree[1]] : "");
    }
    if (tree[0] === "dot") return ctx.dot;
    return ev(tree, ctx);
  }

  function scalar(tree, value) {
    if (Array.isArray(value)) {
      const name = tree[0] === "ref" ? "${" + tree[1] + "}" : ".";
      throw new ExprError(name + " 是重复组（多行），只能用在 count() 里");
    }
    return value;
  }

  function codes(tree, ctx) {
    return toString(scalar(tree, stored(tree, ctx))).split(" ").filter(function (code) { return code !== ""; });
  }

  function count(tree, ctx) {
    const value = stored(tree, ctx);
    if (Array.isArray(value)) return value.filter(function (item) { return item !== null && item !== ""; }).length;
    return toString(value) !== "" ? 1 : 0;
  }

  const CALLS = {
    "not": function (args, ctx) { return !truthy(ev(args[0], ctx)); },
    "if": function (args, ctx) { return ev(truthy(ev(args[0], ctx)) ? args[1] : args[2], ctx); },
    "selected": function (args, ctx) {
      const chosen = codes(args[0], ctx);
      return chosen.indexOf(toString(ev(args[1], ctx))) >= 0;
    },
    "count-selected": function (args, ctx) { return codes(args[0], ctx).length; },
    "count": function (args, ctx) { return count(args[0], ctx); },
    "string-length": function (args, ctx) { return Array.from(toString(ev(args[0], ctx))).length; },
    "today": function (args, ctx) {
      if (ctx.today === null) throw new ExprError("today() 需要给定“今天”的日期才能求值");
      return ctx.today;
    },
    "now": function (args, ctx) { return CALLS.today(args, ctx); },   // to the day, as expr_eval.py
    "date": function (args, ctx) {
      const text = toString(ev(args[0], ctx));
      return isDate(text) ? text : "";
    },
  };

  function ev(tree, ctx) {
    switch (tree[0]) {
      case "lit": return tree[1];
      case "ref":
      case "dot": return scalar(tree, stored(tree, ctx));
      case "neg": return -toNumber(ev(tree[1], ctx));
      case "and": return truthy(ev(tree[1], ctx)) && truthy(ev(tree[2], ctx));
      case "or": return truthy(ev(tree[1], ctx)) || truthy(ev(tree[2], ctx));
      case "call":
        if (!Object.prototype.hasOwnProperty.call(CALLS, tree[1])) throw new ExprError("不支持的函数 " + tree[1] + "()");
        return CALLS[tree[1]](tree.slice(2), ctx);
      default: {
        const left = ev(tree[1], ctx), right = ev(tree[2], ctx);
        if (["=", "!=", "<", "<=", ">", ">="].indexOf(tree[0]) >= 0) return compare(tree[0], left, right);
        if (["+", "-", "*", "div", "mod"].indexOf(tree[0]) >= 0) {
          return arithmetic(tree[0], toNumber(left), toNumber(right));
        }
        throw new ExprError("无法识别的表达式节点 " + JSON.stringify(tree[0]));
      }
    }
  }

  function evaluate(tree, values, dot, todayISO) {
    const ctx = {values: values || {}, dot: normalized(dot), today: todayISO === undefined || todayISO === null ? null : todayISO};
    return ev(tree, ctx);
  }

  return {evaluate: evaluate, truthy: truthy, toNumber: toNumber, toString: toString, formatNumber: formatNumber, ExprError: ExprError};
});
