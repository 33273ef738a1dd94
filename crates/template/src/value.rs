//! Turning the JSON conversation into template values with Python's `None` semantics.
//!
//! minijinja's `none` is iterable (as an empty sequence) while Python's `None` is not: under
//! jinja2, `{% for tool in tools %}` with `tools = None` is a `TypeError`. JSON nulls (and the
//! `tools`/`documents` that Hugging Face passes as `None`) therefore become a [`PyNone`] object:
//! falsy, printed `None`, serialised `null`, `is none` (the test is replaced to know it), and
//! not iterable, so loops over it fail as they do in Python.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};

/// Python's `None` as a template value (see the module docs).
#[derive(Debug)]
pub(crate) struct PyNone;

impl Object for PyNone {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("None")
    }
}

/// A fresh Python `None` value.
pub(crate) fn py_none() -> Value {
    Value::from_object(PyNone)
}

/// Whether a value is `None`, minijinja's or ours.
pub(crate) fn is_py_none(value: &Value) -> bool {
    value.is_none() || value.downcast_object_ref::<PyNone>().is_some()
}

/// A JSON value as a template value: maps keep their key order, nulls become [`PyNone`].
pub(crate) fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => py_none(),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => items.iter().map(from_json).collect(),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
            .collect(),
    }
}

/// A JSON object as a template map (see [`from_json`]).
pub(crate) fn map_from_json(map: &serde_json::Map<String, serde_json::Value>) -> Value {
    map.iter()
        .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Clock, TEMPLATE_NAME, build};

    fn render(source: &str, ctx: serde_json::Value) -> Result<String, minijinja::Error> {
        let env = build(source.to_owned(), Clock::SystemUtc)?;
        let ctx = match &ctx {
            serde_json::Value::Object(map) => map_from_json(map),
            _ => Value::UNDEFINED,
        };
        env.get_template(TEMPLATE_NAME)?.render(ctx)
    }

    #[test]
    fn json_null_behaves_like_python_none() {
        let ctx = serde_json::json!({"n": null, "m": {"b": 1, "a": null}});
        assert_eq!(
            render(
                "{{ n }}|{{ n is none }}|{{ n is not none }}|{{ n is defined }}|{{ 'y' if n else 'n' }}|{{ n is iterable }}|{{ m }}|{{ m|tojson }}|{{ n.attr is defined }}",
                ctx.clone()
            )
            .unwrap(),
            "None|True|False|True|n|False|{'b': 1, 'a': None}|{\"b\": 1, \"a\": null}|False"
        );
        assert!(render("{% for x in n %}{% endfor %}", ctx.clone()).is_err());
        assert!(render("{{ 'a' + n }}", ctx.clone()).is_err());
        assert_eq!(render("{{ none is none }}", ctx).unwrap(), "True");
    }

    #[test]
    fn numbers_keep_integer_or_float() {
        let ctx = serde_json::json!({"v": [1, -2, 18446744073709551615u64, 2.0, 0.5]});
        assert_eq!(
            render("{{ v }}|{{ v|tojson }}", ctx).unwrap(),
            "[1, -2, 18446744073709551615, 2.0, 0.5]|[1, -2, 18446744073709551615, 2.0, 0.5]"
        );
    }
}
