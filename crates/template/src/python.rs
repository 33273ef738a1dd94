//! Python's `str()` and `repr()` of template values, as jinja2 prints them.
//!
//! jinja2 turns a value into text with Python's `str()`: `None`, `True`, `1.0`, and a list or dict
//! as its `repr()` (`[{'type': 'text'}]`). minijinja prints `none`, `true` and JSON-like maps, so
//! the environment's formatter and its `string`/`trim` filters go through [`py_str`] instead.

use minijinja::value::{Value, ValueKind};

use crate::value::is_py_none;

/// Python's `str(value)` for a template value (undefined prints as nothing, as in jinja2).
pub(crate) fn py_str(value: &Value) -> String {
    let mut out = String::new();
    write_str(&mut out, value, 0);
    out
}

/// How deep `str()` of nested lists and maps goes before eliding (values from JSON are bounded
/// far below this; it only guards against pathological template-built values).
const MAX_DEPTH: usize = 256;

fn write_str(out: &mut String, value: &Value, depth: usize) {
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::String => out.push_str(value.as_str().unwrap_or_default()),
        _ => write_repr(out, value, depth),
    }
}

fn write_repr(out: &mut String, value: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match value.kind() {
        ValueKind::Undefined => out.push_str("Undefined"),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => write_number(out, value),
        ValueKind::String => write_string_repr(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item, depth + 1);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key, depth + 1);
                    out.push_str(": ");
                    let item = value.get_item(&key).unwrap_or(Value::UNDEFINED);
                    write_repr(out, &item, depth + 1);
                }
            }
            out.push('}');
        }
        _ if is_py_none(value) => out.push_str("None"),
        _ => out.push_str(&value.to_string()),
    }
}

/// A number as Python prints it: integers in decimal, floats with [`float_repr`].
pub(crate) fn write_number(out: &mut String, value: &Value) {
    if value.is_integer() {
        out.push_str(&value.to_string());
    } else if let Ok(f) = f64::try_from(value.clone()) {
        out.push_str(&float_repr(f));
    } else {
        out.push_str(&value.to_string());
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, in positional notation when the
/// decimal exponent is in `-4..16` (always with a fractional part, `1.0`), otherwise in
/// scientific notation with a signed, at least two-digit exponent (`1e-05`, `1.5e+16`).
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: "-1.2345e-7", "1e16", "0e0".
    let sci = format!("{f:e}");
    let (negative, unsigned) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let int_len = usize::try_from(exponent).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                let (int_part, frac_part) = digits.split_at(int_len);
                out.push_str(int_part);
                out.push('.');
                out.push_str(frac_part);
            }
        } else {
            out.push_str("0.");
            let zeros = usize::try_from(-exponent - 1).unwrap_or(0);
            out.extend(std::iter::repeat_n('0', zeros));
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    }
    out
}

/// Python's `repr(str)`: single quotes unless the text holds a `'` and no `"`; backslash escapes
/// for the quote, `\\`, `\t`, `\n`, `\r` and non-printable characters.
///
/// "Non-printable" follows Python for control, separator and format characters, surrogates and
/// private-use code points; unassigned code points (which Python also escapes) are kept, as this
/// crate carries no Unicode database.
pub(crate) fn write_string_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let n = u32::from(c);
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one character, without the unassigned code points.
fn is_printable(c: char) -> bool {
    let n = u32::from(c);
    !matches!(n,
        // Cc
        0x00..=0x1f | 0x7f..=0x9f
        // Zs other than the ASCII space, Zl, Zp
        | 0xa0 | 0x1680 | 0x2000..=0x200a | 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000
        // Cf
        | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        // Co
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd
        // Cn: noncharacters
        | 0xfffe | 0xffff
    )
}

/// Python's `str.isspace` for one character (Rust's `char::is_whitespace` lacks the ASCII
/// information separators U+001C..U+001F, which Python counts as whitespace).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (21.5, "21.5"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (1e15, "1000000000000000.0"),
            (9_007_199_254_740_993.0, "9007199254740992.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "repr({f:?})");
        }
    }

    #[test]
    fn str_of_containers_is_python_repr() {
        let v = Value::from_serialize(serde_json::json!([
            {"type": "text", "text": "it's"},
            {"a": null, "b": true, "c": 1.0, "d": [1, "x\ny"], "e": "say \"hi\" it's"}
        ]));
        assert_eq!(
            py_str(&v),
            r#"[{'type': 'text', 'text': "it's"}, {'a': None, 'b': True, 'c': 1.0, 'd': [1, 'x\ny'], 'e': 'say "hi" it\'s'}]"#
        );
        assert_eq!(py_str(&Value::from("plain")), "plain");
        assert_eq!(py_str(&Value::from(())), "None");
        assert_eq!(py_str(&Value::UNDEFINED), "");
        assert_eq!(py_str(&Value::from(false)), "False");
    }

    #[test]
    fn repr_escapes_non_printable_characters() {
        let mut out = String::new();
        write_string_repr(&mut out, "a\u{7}b\u{a0}c\u{2028}é🙂\\");
        assert_eq!(out, r"'a\x07b\xa0c\u2028é🙂\\'");
    }
}
