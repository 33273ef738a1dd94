//! Metadata values and the key → value map.

use crate::GgufError;
use std::collections::BTreeMap;

/// A GGUF metadata value type, by its id in the file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    /// The type for a GGUF value type id; `None` for unknown ids.
    pub fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The GGUF value type id.
    pub fn id(self) -> u32 {
        use ValueType::*;
        match self {
            U8 => 0,
            I8 => 1,
            U16 => 2,
            I16 => 3,
            U32 => 4,
            I32 => 5,
            F32 => 6,
            Bool => 7,
            String => 8,
            Array => 9,
            U64 => 10,
            I64 => 11,
            F64 => 12,
        }
    }

    /// Lower-case name used in error messages.
    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }

    /// The smallest number of bytes one value of this type takes in a file.
    pub(crate) fn min_encoded_size(self) -> u64 {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
            String => 8,
            Array => 12,
        }
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    /// A typed array. Elements read from a file all have the array's declared type.
    Array(Vec<Value>),
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F32(_) => ValueType::F32,
            Value::F64(_) => ValueType::F64,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
        }
    }

    /// Lower-case type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        self.value_type().name()
    }

    /// The value as a non-negative integer, from any integer type.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a signed integer, from any integer type that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => i64::try_from(v).ok(),
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as `f32`, from `f32` or `f64`.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Value::F32(v) => Some(v),
            Value::F64(v) => Some(v as f32),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, if this is a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// The metadata key/value pairs of a GGUF file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    map: BTreeMap<String, Value>,
}

impl Metadata {
    /// An empty map.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Inserts a value, returning the previous one for the key.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.map.insert(key.into(), value)
    }

    /// The raw value for a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        f: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, GgufError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => match f(v) {
                Some(t) => Ok(Some(t)),
                None => Err(GgufError::WrongType {
                    key: key.to_string(),
                    expected,
                    found: found_name(v),
                }),
            },
        }
    }

    /// A string value; `Err` if the key holds another type.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        self.typed(key, "string", Value::as_str)
    }

    /// A non-negative integer of any integer type; `Err` for other types or negative values.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        self.typed(key, "non-negative integer", Value::as_u64)
    }

    /// A signed integer of any integer type that fits `i64`.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, GgufError> {
        self.typed(key, "integer", Value::as_i64)
    }

    /// A float (`f32` or `f64`).
    pub fn get_f32(&self, key: &str) -> Result<Option<f32>, GgufError> {
        self.typed(key, "f32 or f64", Value::as_f32)
    }

    /// A bool.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        self.typed(key, "bool", Value::as_bool)
    }

    /// An array's elements.
    pub fn get_array(&self, key: &str) -> Result<Option<&[Value]>, GgufError> {
        self.typed(key, "array", Value::as_array)
    }

    /// An array of strings; `Err` names the key and the first element of another type.
    pub fn get_str_array(&self, key: &str) -> Result<Option<Vec<&str>>, GgufError> {
        self.typed_array(key, "array of string", Value::as_str)
    }

    /// An array of floats (`f32` or `f64` elements).
    pub fn get_f32_array(&self, key: &str) -> Result<Option<Vec<f32>>, GgufError> {
        self.typed_array(key, "array of f32", Value::as_f32)
    }

    /// An array of integers of any integer type that fits `i64`.
    pub fn get_i64_array(&self, key: &str) -> Result<Option<Vec<i64>>, GgufError> {
        self.typed_array(key, "array of integer", Value::as_i64)
    }

    fn typed_array<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        f: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>, GgufError> {
        let Some(items) = self.get_array(key).map_err(|_| GgufError::WrongType {
            key: key.to_string(),
            expected,
            found: self.map.get(key).map_or("missing", found_name),
        })?
        else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match f(item) {
                Some(t) => out.push(t),
                None => {
                    return Err(GgufError::WrongType {
                        key: key.to_string(),
                        expected,
                        found: array_elem_name(item),
                    });
                }
            }
        }
        Ok(Some(out))
    }

    /// All pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Type name of a value for "found" in errors; distinguishes negative integers.
fn found_name(v: &Value) -> &'static str {
    match v.as_i64() {
        Some(i) if i < 0 => match v {
            Value::I8(_) => "i8 (negative)",
            Value::I16(_) => "i16 (negative)",
            Value::I32(_) => "i32 (negative)",
            _ => "i64 (negative)",
        },
        _ => v.type_name(),
    }
}

fn array_elem_name(v: &Value) -> &'static str {
    match v.value_type() {
        ValueType::U8 => "array of u8",
        ValueType::I8 => "array of i8",
        ValueType::U16 => "array of u16",
        ValueType::I16 => "array of i16",
        ValueType::U32 => "array of u32",
        ValueType::I32 => "array of i32",
        ValueType::U64 => "array of u64",
        ValueType::I64 => "array of i64",
        ValueType::F32 => "array of f32",
        ValueType::F64 => "array of f64",
        ValueType::Bool => "array of bool",
        ValueType::String => "array of string",
        ValueType::Array => "array of array",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters() {
        let mut m = Metadata::new();
        m.insert("s", Value::String("x".into()));
        m.insert("u", Value::U32(7));
        m.insert("neg", Value::I32(-1));
        m.insert("f", Value::F64(0.5));
        m.insert("a", Value::Array(vec![Value::String("a".into())]));
        assert_eq!(m.get_str("s").unwrap(), Some("x"));
        assert_eq!(m.get_str("missing").unwrap(), None);
        assert_eq!(m.get_u64("u").unwrap(), Some(7));
        assert_eq!(m.get_f32("f").unwrap(), Some(0.5));
        assert_eq!(m.get_str_array("a").unwrap(), Some(vec!["a"]));
        let e = m.get_u64("neg").unwrap_err().to_string();
        assert!(e.contains("\"neg\"") && e.contains("i32 (negative)"), "{e}");
        let e = m.get_str("u").unwrap_err().to_string();
        assert!(
            e.contains("\"u\"") && e.contains("u32") && e.contains("string"),
            "{e}"
        );
        let e = m.get_f32_array("a").unwrap_err().to_string();
        assert!(e.contains("array of string"), "{e}");
        assert!(m.get_bool("s").is_err());
    }
}
