//! `tojson` as Hugging Face defines it: Python's `json.dumps(x, ensure_ascii=False, indent=...,
//! separators=..., sort_keys=...)`, byte for byte.
//!
//! Python's defaults differ from serde_json's: items are separated by `", "` and keys by `": "`
//! (`","` between items when indenting), floats print as `repr(float)` (`1e-05`, `2.0`), and only
//! control characters, `"` and `\` are escaped when `ensure_ascii` is false.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::python::float_repr;
use crate::value::is_py_none;

/// Options of `json.dumps` that the filter exposes.
#[derive(Debug, Clone, Default)]
pub(crate) struct DumpOptions {
    pub ensure_ascii: bool,
    /// `None` prints on one line; `Some(s)` puts every item on its own line indented by `s` per
    /// level (Python's `indent=4` is four spaces, `indent="\t"` a tab).
    pub indent: Option<String>,
    /// `(item_separator, key_separator)`; Python's default depends on `indent`.
    pub separators: Option<(String, String)>,
    pub sort_keys: bool,
}

/// Nesting beyond this is reported as an error instead of recursing further.
const MAX_DEPTH: usize = 512;

/// `json.dumps(value, ...)`.
pub(crate) fn dumps(value: &Value, options: &DumpOptions) -> Result<String, Error> {
    let (item_sep, key_sep) = match &options.separators {
        Some((item, key)) => (item.clone(), key.clone()),
        None if options.indent.is_some() => (",".to_owned(), ": ".to_owned()),
        None => (", ".to_owned(), ": ".to_owned()),
    };
    let writer = Writer {
        options,
        item_sep,
        key_sep,
    };
    let mut out = String::new();
    writer.value(&mut out, value, 0)?;
    Ok(out)
}

struct Writer<'a> {
    options: &'a DumpOptions,
    item_sep: String,
    key_sep: String,
}

impl Writer<'_> {
    fn value(&self, out: &mut String, value: &Value, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "tojson: value nested too deeply",
            ));
        }
        match value.kind() {
            _ if is_py_none(value) => out.push_str("null"),
            ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
            ValueKind::Number => self.number(out, value),
            ValueKind::String => self.string(out, value.as_str().unwrap_or_default()),
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = value.try_iter()?.collect();
                self.container(out, '[', ']', &items, depth, |w, out, item| {
                    w.value(out, item, depth + 1)
                })?;
            }
            ValueKind::Map => {
                let mut pairs = Vec::new();
                for key in value.try_iter()? {
                    let item = value.get_item(&key)?;
                    pairs.push((self.key(&key)?, item));
                }
                if self.options.sort_keys {
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                }
                self.container(out, '{', '}', &pairs, depth, |w, out, (key, item)| {
                    w.string(out, key);
                    out.push_str(&w.key_sep);
                    w.value(out, item, depth + 1)
                })?;
            }
            kind => {
                let type_name = match kind {
                    ValueKind::Undefined => "Undefined".to_owned(),
                    other => other.to_string(),
                };
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("Object of type {type_name} is not JSON serializable"),
                ));
            }
        }
        Ok(())
    }

    fn container<T>(
        &self,
        out: &mut String,
        open: char,
        close: char,
        items: &[T],
        depth: usize,
        mut write_item: impl FnMut(&Self, &mut String, &T) -> Result<(), Error>,
    ) -> Result<(), Error> {
        out.push(open);
        if items.is_empty() {
            out.push(close);
            return Ok(());
        }
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.item_sep);
            }
            if let Some(indent) = &self.options.indent {
                out.push('\n');
                push_indent(out, indent, depth + 1);
            }
            write_item(self, out, item)?;
        }
        if let Some(indent) = &self.options.indent {
            out.push('\n');
            push_indent(out, indent, depth);
        }
        out.push(close);
        Ok(())
    }

    /// Python converts `str`, `int`, `float`, `bool` and `None` keys to strings.
    fn key(&self, key: &Value) -> Result<String, Error> {
        match key.kind() {
            ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
            ValueKind::None => Ok("null".to_owned()),
            ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_owned()),
            ValueKind::Number => {
                let mut s = String::new();
                self.number(&mut s, key);
                Ok(s)
            }
            kind => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("keys must be str, int, float, bool or None, not {kind}"),
            )),
        }
    }

    fn number(&self, out: &mut String, value: &Value) {
        if value.is_integer() {
            out.push_str(&value.to_string());
            return;
        }
        match f64::try_from(value.clone()) {
            Ok(f) if f.is_nan() => out.push_str("NaN"),
            Ok(f) if f.is_infinite() => {
                out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Ok(f) => out.push_str(&float_repr(f)),
            Err(_) => out.push_str(&value.to_string()),
        }
    }

    fn string(&self, out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if u32::from(c) < 0x20 => push_u_escape(out, u32::from(c)),
                c if self.options.ensure_ascii && !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        push_u_escape(out, u32::from(*unit));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

fn push_u_escape(out: &mut String, unit: u32) {
    out.push_str(&format!("\\u{unit:04x}"));
}

fn push_indent(out: &mut String, indent: &str, depth: usize) {
    for _ in 0..depth {
        out.push_str(indent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(json: serde_json::Value, options: &DumpOptions) -> String {
        dumps(&Value::from_serialize(json), options).unwrap()
    }

    #[test]
    fn default_separators_match_python() {
        let v = serde_json::json!({"a": [1, 2.0, 1e-5, null, true], "b": {"c": "é\"\\\n\u{1}"}, "e": []});
        assert_eq!(
            dump(v, &DumpOptions::default()),
            r#"{"a": [1, 2.0, 1e-05, null, true], "b": {"c": "é\"\\\n\u0001"}, "e": []}"#
        );
    }

    #[test]
    fn indent_uses_comma_newline_and_keeps_empty_containers_inline() {
        let v = serde_json::json!({"a": [1, {}], "b": {"c": []}});
        let options = DumpOptions {
            indent: Some("    ".to_owned()),
            ..DumpOptions::default()
        };
        assert_eq!(
            dump(v, &options),
            "{\n    \"a\": [\n        1,\n        {}\n    ],\n    \"b\": {\n        \"c\": []\n    }\n}"
        );
    }

    #[test]
    fn ensure_ascii_sort_keys_and_custom_separators() {
        let v = serde_json::json!({"z": "é🙂", "a": 1});
        let options = DumpOptions {
            ensure_ascii: true,
            sort_keys: true,
            separators: Some((",".to_owned(), ":".to_owned())),
            ..DumpOptions::default()
        };
        assert_eq!(dump(v, &options), r#"{"a":1,"z":"\u00e9\ud83d\ude42"}"#);
    }

    #[test]
    fn undefined_is_not_serializable() {
        let err = dumps(&Value::UNDEFINED, &DumpOptions::default()).unwrap_err();
        assert!(err.to_string().contains("not JSON serializable"), "{err}");
    }
}
