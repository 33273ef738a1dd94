//! The minijinja environment that reproduces Hugging Face's jinja2 one.
//!
//! transformers renders chat templates in `ImmutableSandboxedEnvironment(trim_blocks=True,
//! lstrip_blocks=True)` with loop controls, a `tojson` filter that is `json.dumps(...,
//! ensure_ascii=False)`, and the globals `raise_exception` and `strftime_now`. On top of that
//! configuration this module makes minijinja print and test values the way Python does.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::json::{DumpOptions, dumps};
use crate::python::{is_py_space, py_str};
use crate::strftime::strftime;
use crate::value::is_py_none;

/// The name the template is registered under (no extension, so no auto-escaping).
pub(crate) const TEMPLATE_NAME: &str = "chat_template";

/// Instructions one rendering may execute before it is stopped; far above what real templates
/// need for long conversations, low enough that a hostile template cannot spin for long.
const FUEL: u64 = 50_000_000;

/// Where `strftime_now` reads the time from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// The current UTC time at each call.
    SystemUtc,
    /// Always this date and time (for tests and reproducible prompts).
    Fixed(PrimitiveDateTime),
}

impl Clock {
    fn now(self) -> PrimitiveDateTime {
        match self {
            Clock::SystemUtc => {
                let now = OffsetDateTime::now_utc();
                PrimitiveDateTime::new(now.date(), now.time())
            }
            Clock::Fixed(at) => at,
        }
    }
}

/// What `raise_exception(message)` attaches to its error so the caller can tell it apart from
/// other failures and recover the template's own message.
#[derive(Debug)]
pub(crate) struct RaisedByTemplate(pub String);

impl fmt::Display for RaisedByTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedByTemplate {}

/// An environment holding one template compiled from `source`.
pub(crate) fn build(source: String, clock: Clock) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_fuel(Some(FUEL));
    env.set_formatter(|out, _state, value| out.write_str(&py_str(value)).map_err(Error::from));
    env.set_unknown_method_callback(unknown_method);
    env.add_filter("tojson", tojson);
    env.add_filter("string", |value: &Value| py_str(value));
    env.add_filter("trim", trim);
    env.add_test("iterable", is_iterable);
    env.add_test("none", |value: &Value| is_py_none(value));
    env.add_function("raise_exception", raise_exception);
    set_clock(&mut env, clock);
    env.add_template_owned(TEMPLATE_NAME, source)?;
    Ok(env)
}

/// (Re)binds `strftime_now` to `clock`.
pub(crate) fn set_clock(env: &mut Environment<'static>, clock: Clock) {
    let clock = Arc::new(clock);
    env.add_function("strftime_now", move |format: &str| {
        strftime(&clock.now(), format).map_err(|msg| Error::new(ErrorKind::InvalidOperation, msg))
    });
}

/// `raise_exception(message)`: fails the rendering with the template's message.
fn raise_exception(message: Option<Value>) -> Result<Value, Error> {
    let message = message.map(|m| py_str(&m)).unwrap_or_default();
    Err(
        Error::new(ErrorKind::InvalidOperation, "raise_exception called")
            .with_source(RaisedByTemplate(message)),
    )
}

/// `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)` (`sort_keys`
/// by keyword only).
fn tojson(
    value: &Value,
    ensure_ascii: Option<Value>,
    indent: Option<Value>,
    separators: Option<Value>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let pick = |positional: Option<Value>, name: &str| -> Result<Option<Value>, Error> {
        let keyword: Option<Value> = kwargs.get(name)?;
        Ok(keyword.or(positional))
    };
    let ensure_ascii = pick(ensure_ascii, "ensure_ascii")?.is_some_and(|v| v.is_true());
    let sort_keys = pick(None, "sort_keys")?.is_some_and(|v| v.is_true());
    let indent = match pick(indent, "indent")? {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) if v.kind() == ValueKind::String => Some(v.as_str().unwrap_or_default().to_owned()),
        Some(v) => {
            let n = v.as_i64().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: indent must be an integer or a string",
                )
            })?;
            Some(" ".repeat(usize::try_from(n.clamp(0, 64)).unwrap_or(0)))
        }
    };
    let separators = match pick(separators, "separators")? {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => {
            let parts: Vec<Value> = v.try_iter()?.collect();
            match parts.as_slice() {
                [item, key] if item.as_str().is_some() && key.as_str().is_some() => Some((
                    item.as_str().unwrap_or_default().to_owned(),
                    key.as_str().unwrap_or_default().to_owned(),
                )),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: separators must be a pair of strings",
                    ));
                }
            }
        }
    };
    kwargs.assert_all_used()?;
    dumps(
        value,
        &DumpOptions {
            ensure_ascii,
            indent,
            separators,
            sort_keys,
        },
    )
}

/// jinja2's `trim(value, chars=None)`: `str(value).strip(chars)`.
fn trim(value: &Value, chars: Option<Value>) -> String {
    let s = py_str(value);
    py_strip(&s, chars.as_ref(), true, true).to_owned()
}

/// Python's `str.strip`/`lstrip`/`rstrip` with an optional set of characters (`None` means
/// whitespace as `str.isspace` defines it).
fn py_strip<'a>(s: &'a str, chars: Option<&Value>, start: bool, end: bool) -> &'a str {
    let set: Option<Vec<char>> = chars
        .filter(|c| !c.is_none() && !c.is_undefined())
        .map(|c| c.as_str().unwrap_or_default().chars().collect());
    let strip = |c: char| match &set {
        Some(set) => set.contains(&c),
        None => is_py_space(c),
    };
    let s = if start {
        s.trim_start_matches(strip)
    } else {
        s
    };
    if end { s.trim_end_matches(strip) } else { s }
}

/// jinja2's `iterable` test is Python's `iter(value)`: strings and undefined are iterable,
/// `None`, numbers and booleans are not (minijinja counts `none` as iterable).
fn is_iterable(value: &Value) -> bool {
    match value.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Number | ValueKind::Invalid => false,
        ValueKind::Undefined
        | ValueKind::String
        | ValueKind::Bytes
        | ValueKind::Seq
        | ValueKind::Map
        | ValueKind::Iterable => true,
        _ => value.try_iter().is_ok(),
    }
}

/// Python methods on values (`s.strip()`, `d.items()`, ...): the strip family with Python's
/// exact whitespace, everything else from `minijinja_contrib::pycompat`.
fn unknown_method(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        let (start, end) = match method {
            "strip" => (true, true),
            "lstrip" => (true, false),
            "rstrip" => (false, true),
            _ => {
                return minijinja_contrib::pycompat::unknown_method_callback(
                    state, value, method, args,
                );
            }
        };
        let chars = match args {
            [] => None,
            [chars] if chars.is_none() || chars.as_str().is_some() => Some(chars),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("str.{method}() takes one optional string argument"),
                ));
            }
        };
        return Ok(Value::from(py_strip(s, chars, start, end)));
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, ctx: serde_json::Value) -> Result<String, Error> {
        let env = build(source.to_owned(), Clock::SystemUtc)?;
        env.get_template(TEMPLATE_NAME)?
            .render(Value::from_serialize(ctx))
    }

    #[test]
    fn prints_values_like_python() {
        let out = render(
            "{{ a }}|{{ b }}|{{ c }}|{{ d }}|{{ e }}|{{ f|string }}|{{ nothing }}",
            serde_json::json!({"a": null, "b": true, "c": 2.0, "d": [1, "x"], "e": {"k": "v"}, "f": false}),
        )
        .unwrap();
        assert_eq!(out, "None|True|2.0|[1, 'x']|{'k': 'v'}|False|");
    }

    #[test]
    fn python_string_methods_and_trim() {
        let out = render(
            "[{{ s.strip() }}][{{ s.lstrip() }}][{{ t.rstrip('\\n') }}][{{ t.strip('\\nx') }}][{{ s|trim }}][{{ u.split(',')[-1].title() }}][{{ u.startswith('a,') }}]",
            serde_json::json!({"s": "\u{1c} hi \u{1f}\t", "t": "x\nbody\n\n", "u": "a,b c"}),
        )
        .unwrap();
        assert_eq!(out, "[hi][hi \u{1f}\t][x\nbody][body][hi][B C][True]");
    }

    #[test]
    fn iterable_test_follows_python() {
        let out = render(
            "{{ s is iterable }} {{ n is iterable }} {{ i is iterable }} {{ l is iterable }} {{ m is iterable }} {{ missing is iterable }}",
            serde_json::json!({"s": "x", "n": null, "i": 1, "l": [], "m": {}}),
        )
        .unwrap();
        assert_eq!(out, "True False False True True True");
    }

    #[test]
    fn tojson_arguments() {
        let out = render(
            "{{ v|tojson }}|{{ v|tojson(indent=2) }}|{{ v|tojson(separators=(',', ':'), sort_keys=true) }}|{{ v|tojson(ensure_ascii=true) }}",
            serde_json::json!({"v": {"b": "é", "a": [1]}}),
        )
        .unwrap();
        assert_eq!(
            out,
            "{\"b\": \"é\", \"a\": [1]}|{\n  \"b\": \"é\",\n  \"a\": [\n    1\n  ]\n}|{\"a\":[1],\"b\":\"é\"}|{\"b\": \"\\u00e9\", \"a\": [1]}"
        );
        assert!(render("{{ v|tojson(bogus=1) }}", serde_json::json!({"v": 1})).is_err());
        assert!(render("{{ v|tojson(separators=1) }}", serde_json::json!({"v": 1})).is_err());
    }

    #[test]
    fn namespaces_loop_controls_and_slices() {
        let out = render(
            "{% set ns = namespace(n=0) %}{% for x in xs[::-1] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}|{{ xs[1:]|length }}",
            serde_json::json!({"xs": [1, 2, 3, 4]}),
        )
        .unwrap();
        assert_eq!(out, "8|3");
    }

    #[test]
    fn runaway_templates_stop() {
        let err = render(
            "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfFuel);
        let err = render(
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("recursion"), "{err}");
    }
}
