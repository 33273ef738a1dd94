//! A small typed reader over `serde_json` values that tracks the JSON path,
//! so that every check is one line and every error names the full path
//! (`messages[0].content[1].image_url.url`).
//!
//! `null` reads as "absent" everywhere (see the module docs of `validate`).

use serde_json::{Map, Value};

use crate::ApiError;

/// Error codes used by validation (the OpenAI `error.code` field).
pub(super) mod code {
    pub const INVALID_TYPE: &str = "invalid_type";
    pub const INVALID_VALUE: &str = "invalid_value";
    pub const MISSING: &str = "missing_required_parameter";
    pub const UNKNOWN: &str = "unknown_parameter";
}

/// 400 `invalid_value` naming `path`.
pub(super) fn invalid(path: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(path, format!("Invalid '{path}': {detail}.")).with_code(code::INVALID_VALUE)
}

/// 400 `invalid_type` naming `path` (`detail` is e.g. "must be a string").
pub(super) fn wrong_type(path: &str, detail: &str) -> ApiError {
    ApiError::invalid(path, format!("Invalid type for '{path}': {detail}."))
        .with_code(code::INVALID_TYPE)
}

/// 400 `missing_required_parameter` naming `path`.
pub(super) fn missing(path: &str) -> ApiError {
    ApiError::invalid(path, format!("Missing required parameter: '{path}'."))
        .with_code(code::MISSING)
}

/// 400 `unknown_parameter` naming `path`.
pub(super) fn unknown(path: &str) -> ApiError {
    ApiError::invalid(
        path,
        format!("Unrecognized request argument supplied: '{path}'."),
    )
    .with_code(code::UNKNOWN)
}

/// `parent.key`, or `key` at the root.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(super) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// An inclusive-or-exclusive numeric interval.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range {
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
}

impl Range {
    /// `min..=max`
    pub const fn incl(min: f64, max: f64) -> Self {
        Range {
            min,
            min_exclusive: false,
            max,
        }
    }

    /// `min < x <= max`
    pub const fn excl_min(min: f64, max: f64) -> Self {
        Range {
            min,
            min_exclusive: true,
            max,
        }
    }

    pub fn check(&self, path: &str, x: f64) -> Result<f64, ApiError> {
        if self.min_exclusive && x <= self.min {
            return Err(invalid(
                path,
                format_args!("must be greater than {}, got {x}", self.min),
            ));
        }
        if !self.min_exclusive && x < self.min {
            return Err(invalid(
                path,
                format_args!("must be at least {}, got {x}", self.min),
            ));
        }
        if x > self.max {
            return Err(invalid(
                path,
                format_args!("must be at most {}, got {x}", self.max),
            ));
        }
        Ok(x)
    }
}

/// Reads an integer-valued number (`3` or `3.0`) in `min..=max`.
pub(super) fn int_value(path: &str, v: &Value, min: u64, max: u64) -> Result<u64, ApiError> {
    let Value::Number(n) = v else {
        return Err(wrong_type(path, "must be an integer"));
    };
    let x = if let Some(u) = n.as_u64() {
        u
    } else if n.as_i64().is_some() {
        // A negative integer: below every minimum we use.
        return Err(invalid(
            path,
            format_args!("must be at least {min}, got {n}"),
        ));
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        if !f.is_finite() || f.fract() != 0.0 {
            return Err(wrong_type(path, "must be an integer"));
        }
        if f < 0.0 {
            return Err(invalid(
                path,
                format_args!("must be at least {min}, got {n}"),
            ));
        }
        if f > max as f64 {
            return Err(invalid(
                path,
                format_args!("must be at most {max}, got {n}"),
            ));
        }
        f as u64
    };
    if x < min {
        return Err(invalid(
            path,
            format_args!("must be at least {min}, got {x}"),
        ));
    }
    if x > max {
        return Err(invalid(
            path,
            format_args!("must be at most {max}, got {x}"),
        ));
    }
    Ok(x)
}

/// Reads a string.
pub(super) fn str_value<'a>(path: &str, v: &'a Value) -> Result<&'a str, ApiError> {
    v.as_str()
        .ok_or_else(|| wrong_type(path, "must be a string"))
}

/// Reads one of `choices`; an unknown value lists the allowed ones.
pub(super) fn enum_value<T: Clone>(
    path: &str,
    v: &Value,
    choices: &[(&str, T)],
) -> Result<T, ApiError> {
    let s = str_value(path, v)?;
    choices
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, t)| t.clone())
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("'{n}'")).collect();
            invalid(path, format_args!("must be one of {}", names.join(", ")))
        })
}

/// A JSON object being read, with its path.
#[derive(Debug, Clone)]
pub(super) struct Obj<'a> {
    pub path: String,
    pub map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// `v` must be an object.
    pub fn new(path: String, v: &'a Value) -> Result<Self, ApiError> {
        match v {
            Value::Object(map) => Ok(Obj { path, map }),
            _ => Err(wrong_type(&path, "must be an object")),
        }
    }

    /// Refuses any key not in `allowed`, naming its path.
    pub fn deny_unknown(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(unknown(&self.at(k))),
            None => Ok(()),
        }
    }

    /// The path of `key` inside this object.
    pub fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value of `key`, with `null` read as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether `key` is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The value of `key`, which must be present and not `null`.
    pub fn req(&self, key: &str) -> Result<&'a Value, ApiError> {
        self.get(key).ok_or_else(|| missing(&self.at(key)))
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        self.get(key)
            .map(|v| str_value(&self.at(key), v))
            .transpose()
    }

    pub fn req_str(&self, key: &str) -> Result<&'a str, ApiError> {
        str_value(&self.at(key), self.req(key)?)
    }

    /// A string that must not be empty.
    pub fn req_nonempty_str(&self, key: &str) -> Result<&'a str, ApiError> {
        let s = self.req_str(key)?;
        if s.is_empty() {
            return Err(invalid(&self.at(key), "must not be empty"));
        }
        Ok(s)
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| wrong_type(&self.at(key), "must be a boolean"))
            })
            .transpose()
    }

    /// A number in `range`.
    pub fn opt_num(&self, key: &str, range: Range) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let path = self.at(key);
        let x = v
            .as_f64()
            .ok_or_else(|| wrong_type(&path, "must be a number"))?;
        range.check(&path, x).map(Some)
    }

    /// An integer-valued number in `min..=max`.
    pub fn opt_int(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| int_value(&self.at(key), v, min, max))
            .transpose()
    }

    pub fn opt_enum<T: Clone>(
        &self,
        key: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| enum_value(&self.at(key), v, choices))
            .transpose()
    }

    /// The string `key` must equal `expected` (a `type` discriminator).
    pub fn req_tag(&self, key: &str, expected: &str) -> Result<(), ApiError> {
        let path = self.at(key);
        if self.req_str(key)? != expected {
            return Err(invalid(&path, format_args!("must be '{expected}'")));
        }
        Ok(())
    }

    /// A nested object.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, ApiError> {
        self.get(key).map(|v| Obj::new(self.at(key), v)).transpose()
    }

    /// A nested object that must be present.
    pub fn req_obj(&self, key: &str) -> Result<Obj<'a>, ApiError> {
        Obj::new(self.at(key), self.req(key)?)
    }

    /// An array.
    pub fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(wrong_type(&self.at(key), "must be an array")),
        }
    }
}

/// Whether `name` matches `^[a-zA-Z0-9_-]{1,64}$` (function and schema names).
pub(super) fn is_identifier(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a function/schema name, naming `path` on failure.
pub(super) fn identifier<'s>(path: &str, name: &'s str) -> Result<&'s str, ApiError> {
    if is_identifier(name) {
        Ok(name)
    } else {
        Err(invalid(
            path,
            "must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and dashes",
        ))
    }
}
