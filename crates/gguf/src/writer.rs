//! Writing GGUF v3 files in the exact layout llama.cpp reads: header, metadata, tensor infos,
//! padding to the alignment, then each tensor's data padded to the alignment.

use crate::reader::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS, align_up};
use crate::{GgmlType, GgufError, Value, ValueType, quant};
use std::io::Write;
use std::path::Path;

/// ggml's `GGML_MAX_NAME` is 64 including the terminating NUL.
pub const MAX_TENSOR_NAME_LEN: usize = 63;

type LazyData = Box<dyn FnOnce() -> Result<Vec<u8>, GgufError>>;

enum TensorData {
    Bytes(Vec<u8>),
    Lazy(LazyData),
}

struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ty: GgmlType,
    n_bytes: u64,
    data: TensorData,
}

struct Entry {
    key: String,
    value: Value,
    /// Element type of a top-level array (needed for empty arrays).
    elem: Option<ValueType>,
}

/// Builds a GGUF v3 file. Metadata keys keep their insertion order; tensors are laid out in
/// the order added. Tensor data can be given up front or produced lazily at write time, so
/// large files are written one tensor at a time.
pub struct GgufWriter {
    alignment: u64,
    entries: Vec<Entry>,
    tensors: Vec<PendingTensor>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter::new()
    }
}

fn werr(msg: impl Into<String>) -> GgufError {
    GgufError::Writer(msg.into())
}

impl GgufWriter {
    /// An empty file with the default alignment (32).
    pub fn new() -> GgufWriter {
        GgufWriter {
            alignment: DEFAULT_ALIGNMENT,
            entries: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Sets a metadata value (replacing an earlier one for the key, in place). Arrays must be
    /// non-empty and homogeneous (use [`GgufWriter::set_array`] for empty arrays).
    /// `general.alignment` must be a `U32` power of two, as llama.cpp requires.
    pub fn set(&mut self, key: impl Into<String>, value: Value) -> Result<(), GgufError> {
        let key = key.into();
        let elem = match &value {
            Value::Array(items) => Some(array_elem_type(&key, items, None)?),
            _ => None,
        };
        self.insert(key, value, elem)
    }

    /// Sets an array with an explicit element type (which may be empty).
    pub fn set_array(
        &mut self,
        key: impl Into<String>,
        elem: ValueType,
        items: Vec<Value>,
    ) -> Result<(), GgufError> {
        let key = key.into();
        array_elem_type(&key, &items, Some(elem))?;
        self.insert(key, Value::Array(items), Some(elem))
    }

    fn insert(
        &mut self,
        key: String,
        value: Value,
        elem: Option<ValueType>,
    ) -> Result<(), GgufError> {
        if key.is_empty() {
            return Err(werr("metadata key must not be empty"));
        }
        if key == ALIGNMENT_KEY {
            match value {
                Value::U32(a) if a.is_power_of_two() => self.alignment = u64::from(a),
                _ => {
                    return Err(werr(format!(
                        "{ALIGNMENT_KEY} must be a u32 power of two, got {value:?}"
                    )));
                }
            }
        }
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.value = value;
                e.elem = elem;
            }
            None => self.entries.push(Entry { key, value, elem }),
        }
        Ok(())
    }

    fn check_tensor(&self, name: &str, dims: &[u64], ty: GgmlType) -> Result<u64, GgufError> {
        let bad = |reason: String| GgufError::tensor(name, reason);
        if name.is_empty() || name.len() > MAX_TENSOR_NAME_LEN {
            return Err(bad(format!(
                "name must be 1 to {MAX_TENSOR_NAME_LEN} bytes long"
            )));
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(bad("duplicate tensor name".into()));
        }
        if dims.is_empty() || dims.len() > MAX_DIMS as usize {
            return Err(bad(format!(
                "needs 1 to {MAX_DIMS} dimensions, got {dims:?}"
            )));
        }
        if !ty.is_known() {
            return Err(bad(format!("unsupported ggml type {ty}")));
        }
        let mut n: u64 = 1;
        for &d in dims {
            n = n
                .checked_mul(d)
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
        }
        let row = usize::try_from(dims[0]).map_err(|_| bad("row too long".into()))?;
        let row_bytes = ty.row_bytes(row).map_err(|e| bad(e.to_string()))? as u64;
        let rows = n.checked_div(dims[0]).unwrap_or(0);
        row_bytes
            .checked_mul(rows)
            .ok_or_else(|| bad(format!("byte size of {dims:?} overflows")))
    }

    /// Adds a tensor with already-encoded data (`dims` in ggml order, `dims[0]` = row length).
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        let name = name.into();
        let n_bytes = self.check_tensor(&name, dims, ty)?;
        if data.len() as u64 != n_bytes {
            return Err(GgufError::tensor(
                &name,
                format!(
                    "{} data bytes given, {ty} {dims:?} takes {n_bytes}",
                    data.len()
                ),
            ));
        }
        self.push(name, dims, ty, n_bytes, TensorData::Bytes(data));
        Ok(())
    }

    /// Adds a tensor from f32 values, encoding each row as `ty`.
    pub fn add_tensor_f32(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
        values: &[f32],
    ) -> Result<(), GgufError> {
        let name = name.into();
        self.check_tensor(&name, dims, ty)?;
        let row = usize::try_from(dims[0]).map_err(|_| GgufError::tensor(&name, "row too long"))?;
        let data = quant::quantize_tensor(ty, values, row)
            .map_err(|e| GgufError::tensor(&name, e.to_string()))?;
        self.add_tensor(name, dims, ty, data)
    }

    /// Adds a tensor whose encoded bytes are produced by `data` when the file is written.
    pub fn add_tensor_lazy(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ty: GgmlType,
        data: impl FnOnce() -> Result<Vec<u8>, GgufError> + 'static,
    ) -> Result<(), GgufError> {
        let name = name.into();
        let n_bytes = self.check_tensor(&name, dims, ty)?;
        self.push(name, dims, ty, n_bytes, TensorData::Lazy(Box::new(data)));
        Ok(())
    }

    fn push(&mut self, name: String, dims: &[u64], ty: GgmlType, n_bytes: u64, data: TensorData) {
        self.tensors.push(PendingTensor {
            name,
            dims: dims.to_vec(),
            ty,
            n_bytes,
            data,
        });
    }

    /// Everything before the data section, padded to the alignment.
    fn header(&self) -> Result<Vec<u8>, GgufError> {
        let mut h = Vec::new();
        h.extend(GGUF_MAGIC);
        h.extend(3u32.to_le_bytes());
        h.extend((self.tensors.len() as u64).to_le_bytes());
        h.extend((self.entries.len() as u64).to_le_bytes());
        for e in &self.entries {
            put_str(&mut h, &e.key);
            match (&e.value, e.elem) {
                (Value::Array(items), Some(elem)) => {
                    h.extend(ValueType::Array.id().to_le_bytes());
                    put_array(&mut h, elem, items);
                }
                (v, _) => {
                    h.extend(v.value_type().id().to_le_bytes());
                    put_value(&mut h, v)?;
                }
            }
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut h, &t.name);
            h.extend((t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                h.extend(d.to_le_bytes());
            }
            h.extend(t.ty.id().to_le_bytes());
            h.extend(offset.to_le_bytes());
            offset = offset
                .checked_add(t.n_bytes)
                .and_then(|o| align_up(o, self.alignment))
                .ok_or_else(|| werr("data section size overflows"))?;
        }
        let padded = align_up(h.len() as u64, self.alignment)
            .ok_or_else(|| werr("header size overflows"))?;
        h.resize(padded as usize, 0);
        Ok(h)
    }

    /// Writes the file to `w`, producing lazy tensor data one tensor at a time.
    pub fn write_to(self, mut w: impl Write) -> Result<(), GgufError> {
        let io = GgufError::WriteIo;
        w.write_all(&self.header()?).map_err(io)?;
        let zeros = vec![0u8; self.alignment as usize];
        for t in self.tensors {
            let data = match t.data {
                TensorData::Bytes(b) => b,
                TensorData::Lazy(f) => f()?,
            };
            if data.len() as u64 != t.n_bytes {
                return Err(GgufError::tensor(
                    &t.name,
                    format!("produced {} bytes, expected {}", data.len(), t.n_bytes),
                ));
            }
            w.write_all(&data).map_err(io)?;
            let pad = (self.alignment - t.n_bytes % self.alignment) % self.alignment;
            w.write_all(zeros.get(..pad as usize).unwrap_or_default())
                .map_err(io)?;
        }
        w.flush().map_err(io)
    }

    /// The whole file in memory.
    pub fn into_bytes(self) -> Result<Vec<u8>, GgufError> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Writes the file to `path` (created or truncated).
    pub fn write_file(self, path: impl AsRef<Path>) -> Result<(), GgufError> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(|source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.write_to(std::io::BufWriter::new(file))
    }
}

/// Checks an array is homogeneous (recursively) and returns its element type.
fn array_elem_type(
    key: &str,
    items: &[Value],
    explicit: Option<ValueType>,
) -> Result<ValueType, GgufError> {
    let elem = match (explicit, items.first()) {
        (Some(t), _) => t,
        (None, Some(first)) => first.value_type(),
        (None, None) => {
            return Err(werr(format!(
                "key {key:?}: empty arrays need an explicit element type (use set_array)"
            )));
        }
    };
    for item in items {
        if item.value_type() != elem {
            return Err(werr(format!(
                "key {key:?}: array of {} contains a {}",
                elem.name(),
                item.type_name()
            )));
        }
        if let Value::Array(inner) = item {
            array_elem_type(key, inner, None)?;
        }
    }
    Ok(elem)
}

fn put_str(h: &mut Vec<u8>, s: &str) {
    h.extend((s.len() as u64).to_le_bytes());
    h.extend(s.as_bytes());
}

fn put_array(h: &mut Vec<u8>, elem: ValueType, items: &[Value]) {
    h.extend(elem.id().to_le_bytes());
    h.extend((items.len() as u64).to_le_bytes());
    for item in items {
        // Homogeneity was checked when the value was set.
        let _ = put_value(h, item);
    }
}

fn put_value(h: &mut Vec<u8>, v: &Value) -> Result<(), GgufError> {
    match v {
        Value::U8(x) => h.extend(x.to_le_bytes()),
        Value::I8(x) => h.extend(x.to_le_bytes()),
        Value::U16(x) => h.extend(x.to_le_bytes()),
        Value::I16(x) => h.extend(x.to_le_bytes()),
        Value::U32(x) => h.extend(x.to_le_bytes()),
        Value::I32(x) => h.extend(x.to_le_bytes()),
        Value::U64(x) => h.extend(x.to_le_bytes()),
        Value::I64(x) => h.extend(x.to_le_bytes()),
        Value::F32(x) => h.extend(x.to_le_bytes()),
        Value::F64(x) => h.extend(x.to_le_bytes()),
        Value::Bool(x) => h.push(u8::from(*x)),
        Value::String(s) => put_str(h, s),
        Value::Array(items) => {
            let elem = items
                .first()
                .map(Value::value_type)
                .ok_or_else(|| werr("nested arrays must not be empty"))?;
            put_array(h, elem, items);
        }
    }
    Ok(())
}
