//! Parsing a GGUF file: header, metadata, tensor infos, data section.

use crate::cursor::Cursor;
use crate::{GgmlType, GgufError, Metadata, Value, ValueType};
use std::collections::HashSet;
use std::path::Path;

/// `GGUF` as the first four bytes.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Key that sets the data alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Alignment when the file does not set one.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most this many dimensions.
pub const MAX_DIMS: u32 = 4;
/// Arrays nest at most this deep (guards the recursion).
const MAX_ARRAY_DEPTH: u32 = 8;
/// Largest array we accept, whatever the file size (bounds memory: one `Value` is 32 bytes).
const MAX_ARRAY_LEN: u64 = 1 << 26;
/// Largest alignment we accept.
const MAX_ALIGNMENT: u64 = 1 << 20;

/// A tensor's description from the file header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in ggml order: `dims[0]` is the row length (contiguous elements).
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Byte offset relative to the start of the data section.
    pub offset: u64,
    pub n_elements: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Elements per row (`dims[0]`, or 1 for a scalar).
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows (`n_elements / row_len`).
    pub fn n_rows(&self) -> u64 {
        self.n_elements.checked_div(self.row_len()).unwrap_or(0)
    }
}

enum Backing {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A parsed GGUF file. Tensor data stays in the mapping (or buffer) and is handed out as slices.
pub struct GgufFile {
    backing: Backing,
    version: u32,
    alignment: u64,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    data_offset: usize,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("n_kv", &self.metadata.len())
            .field("n_tensors", &self.tensors.len())
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

#[allow(unsafe_code)]
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this `GgufFile`. memmap2 cannot rule out
    // another process truncating or rewriting the file while it is mapped; that is the accepted
    // risk of every mmap-based model loader (llama.cpp included). We never write through it.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    advise_huge_pages(&map);
    Ok(map)
}

/// Asks Linux for transparent huge pages on the mapping (`MADV_HUGEPAGE`). Where the
/// filesystem supports large folios (ext4, xfs and tmpfs on recent kernels), pages read from
/// disk through this mapping are then cached and mapped 2 MiB at a time: far fewer TLB misses
/// when every weight is streamed once per token (measured here: a two-thread read of the
/// mapped file went from about 30 to 45–55 GB/s). A hint: when it is refused, or the file is
/// already cached in small pages, the mapping simply works as before.
fn advise_huge_pages(map: &memmap2::Mmap) {
    #[cfg(target_os = "linux")]
    {
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = map;
}

impl GgufFile {
    /// Opens and memory-maps a GGUF file, then parses and validates its header.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let path = path.as_ref();
        let io = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mmap = map_file(&file).map_err(io)?;
        GgufFile::parse(Backing::Mmap(mmap))
    }

    /// Parses a GGUF file held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
        GgufFile::parse(Backing::Owned(bytes))
    }

    fn parse(backing: Backing) -> Result<GgufFile, GgufError> {
        let header = parse_header(backing.bytes())?;
        Ok(GgufFile {
            backing,
            version: header.version,
            alignment: header.alignment,
            metadata: header.metadata,
            tensors: header.tensors,
            data_offset: header.data_offset,
        })
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Data alignment in bytes (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Byte offset of the data section from the start of the file.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The metadata key/value pairs.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// All tensors, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// A tensor by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The tensor's bytes: a zero-copy slice of the mapping. Checked again here, so a
    /// `TensorInfo` from elsewhere cannot read out of bounds.
    pub fn tensor_data(&self, t: &TensorInfo) -> Result<&[u8], GgufError> {
        let data = self
            .backing
            .bytes()
            .get(self.data_offset..)
            .unwrap_or_default();
        data_range(data, t)
    }
}

fn data_range<'a>(data: &'a [u8], t: &TensorInfo) -> Result<&'a [u8], GgufError> {
    let out_of_bounds = || {
        GgufError::tensor(
            &t.name,
            format!(
                "data at offset {} with {} bytes lies outside the data section ({} bytes)",
                t.offset,
                t.n_bytes,
                data.len()
            ),
        )
    };
    let start = usize::try_from(t.offset).map_err(|_| out_of_bounds())?;
    let len = usize::try_from(t.n_bytes).map_err(|_| out_of_bounds())?;
    let end = start.checked_add(len).ok_or_else(out_of_bounds)?;
    data.get(start..end).ok_or_else(out_of_bounds)
}

struct Header {
    version: u32,
    alignment: u64,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    data_offset: usize,
}

fn parse_header(bytes: &[u8]) -> Result<Header, GgufError> {
    let mut c = Cursor::new(bytes);
    let magic = c.take(4, &|| "magic".into())?;
    if magic != GGUF_MAGIC {
        let mut m = [0u8; 4];
        m.copy_from_slice(magic);
        return Err(GgufError::BadMagic(m));
    }
    let version = c.u32(&|| "version".into())?;
    if version != 2 && version != 3 {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv = c.u64(&|| "metadata count".into())?;

    // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
    // least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
    if n_kv > c.remaining() / 13 {
        return Err(c.malformed(format!(
            "metadata count {n_kv} cannot fit in the {} bytes left",
            c.remaining()
        )));
    }
    let mut metadata = Metadata::new();
    for i in 0..n_kv {
        let key = c.name(&|| format!("key of metadata entry {i}"))?;
        let ty_offset = c.offset();
        let ty = c.u32(&|| format!("value type of key {key:?}"))?;
        let value = read_value(&mut c, ty, ty_offset, &key, 0)?;
        if metadata.contains_key(&key) {
            return Err(c.malformed(format!("duplicate metadata key {key:?}")));
        }
        metadata.insert(key, value);
    }

    let alignment = match metadata.get(ALIGNMENT_KEY) {
        None => DEFAULT_ALIGNMENT,
        Some(v) => match v.as_u64() {
            Some(a) if a.is_power_of_two() && a <= MAX_ALIGNMENT => a,
            _ => {
                return Err(GgufError::Malformed {
                    what: format!(
                        "{ALIGNMENT_KEY} must be a power of two up to {MAX_ALIGNMENT}, got {v:?}"
                    ),
                    offset: 0,
                });
            }
        },
    };

    if n_tensors > c.remaining() / 24 {
        return Err(c.malformed(format!(
            "tensor count {n_tensors} cannot fit in the {} bytes left",
            c.remaining()
        )));
    }
    let mut tensors = Vec::with_capacity(usize::try_from(n_tensors).unwrap_or(0));
    let mut names = HashSet::new();
    for i in 0..n_tensors {
        let t = read_tensor_info(&mut c, i, alignment)?;
        if !names.insert(t.name.clone()) {
            return Err(GgufError::tensor(&t.name, "duplicate tensor name"));
        }
        tensors.push(t);
    }

    // The data section starts at the next multiple of the alignment.
    let data_offset = align_up(c.pos() as u64, alignment)
        .and_then(|o| usize::try_from(o).ok())
        .ok_or_else(|| c.malformed("data section offset overflows"))?;
    let data = bytes.get(data_offset..).unwrap_or_default();
    for t in &tensors {
        data_range(data, t)?;
    }
    Ok(Header {
        version,
        alignment,
        metadata,
        tensors,
        data_offset,
    })
}

pub(crate) fn align_up(x: u64, alignment: u64) -> Option<u64> {
    let rem = x % alignment;
    if rem == 0 {
        Some(x)
    } else {
        x.checked_add(alignment - rem)
    }
}

fn read_value(
    c: &mut Cursor<'_>,
    ty: u32,
    ty_offset: u64,
    key: &str,
    depth: u32,
) -> Result<Value, GgufError> {
    let vt = ValueType::from_id(ty).ok_or_else(|| GgufError::Malformed {
        what: format!("key {key:?} has unknown value type id {ty}"),
        offset: ty_offset,
    })?;
    let what = || format!("value of key {key:?}");
    Ok(match vt {
        ValueType::U8 => Value::U8(c.u8(&what)?),
        ValueType::I8 => Value::I8(c.u8(&what)? as i8),
        ValueType::U16 => Value::U16(c.u16(&what)?),
        ValueType::I16 => Value::I16(c.u16(&what)? as i16),
        ValueType::U32 => Value::U32(c.u32(&what)?),
        ValueType::I32 => Value::I32(c.u32(&what)? as i32),
        ValueType::U64 => Value::U64(c.u64(&what)?),
        ValueType::I64 => Value::I64(c.u64(&what)? as i64),
        ValueType::F32 => Value::F32(f32::from_bits(c.u32(&what)?)),
        ValueType::F64 => Value::F64(f64::from_bits(c.u64(&what)?)),
        ValueType::Bool => match c.u8(&what)? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(c.malformed(format!("key {key:?} has bool byte {b}, expected 0 or 1"))),
        },
        ValueType::String => Value::String(c.string(&what)?),
        ValueType::Array => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(c.malformed(format!(
                    "key {key:?} nests arrays deeper than {MAX_ARRAY_DEPTH}"
                )));
            }
            let elem_offset = c.offset();
            let elem_ty = c.u32(&|| format!("array element type of key {key:?}"))?;
            let elem_vt = ValueType::from_id(elem_ty).ok_or_else(|| GgufError::Malformed {
                what: format!("key {key:?} has arrays of unknown value type id {elem_ty}"),
                offset: elem_offset,
            })?;
            let count = c.u64(&|| format!("array length of key {key:?}"))?;
            let fits = count
                .checked_mul(elem_vt.min_encoded_size())
                .is_some_and(|n| n <= c.remaining());
            if !fits || count > MAX_ARRAY_LEN {
                return Err(c.malformed(format!(
                    "key {key:?}: array of {count} {} elements cannot fit in the {} bytes left (limit {MAX_ARRAY_LEN})",
                    elem_vt.name(),
                    c.remaining()
                )));
            }
            let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
            for _ in 0..count {
                items.push(read_value(c, elem_ty, elem_offset, key, depth + 1)?);
            }
            Value::Array(items)
        }
    })
}

fn read_tensor_info(c: &mut Cursor<'_>, i: u64, alignment: u64) -> Result<TensorInfo, GgufError> {
    let name = c.name(&|| format!("name of tensor {i}"))?;
    let n_dims = c.u32(&|| format!("dimension count of tensor {name:?}"))?;
    if n_dims > MAX_DIMS {
        return Err(GgufError::tensor(
            &name,
            format!("has {n_dims} dimensions, at most {MAX_DIMS} supported"),
        ));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        dims.push(c.u64(&|| format!("dimension {d} of tensor {name:?}"))?);
    }
    let type_id = c.u32(&|| format!("type of tensor {name:?}"))?;
    let ggml_type = GgmlType::from_id(type_id);
    let offset = c.u64(&|| format!("data offset of tensor {name:?}"))?;

    if !ggml_type.is_known() {
        return Err(GgufError::tensor(
            &name,
            format!("unsupported ggml type id {type_id}"),
        ));
    }
    let mut n_elements: u64 = 1;
    for &d in &dims {
        n_elements = n_elements
            .checked_mul(d)
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| GgufError::tensor(&name, format!("dimensions {dims:?} overflow")))?;
    }
    let block = ggml_type.block_size() as u64;
    let row_len = dims.first().copied().unwrap_or(1);
    if block == 0 || !row_len.is_multiple_of(block) {
        return Err(GgufError::tensor(
            &name,
            format!("row length {row_len} is not a multiple of the {ggml_type} block size {block}"),
        ));
    }
    let n_bytes = (n_elements / block)
        .checked_mul(ggml_type.type_size() as u64)
        .ok_or_else(|| GgufError::tensor(&name, format!("byte size of {dims:?} overflows")))?;
    if !offset.is_multiple_of(alignment) {
        return Err(GgufError::tensor(
            &name,
            format!("data offset {offset} is not a multiple of the alignment {alignment}"),
        ));
    }
    Ok(TensorInfo {
        name,
        dims,
        ggml_type,
        offset,
        n_elements,
        n_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, x: &str) {
        out.extend((x.len() as u64).to_le_bytes());
        out.extend(x.as_bytes());
    }

    /// A v3 file with one u32 key and one 2x32 Q8_0 tensor (hand-assembled, not via the writer).
    fn small_file(version: u32, type_id: u32, dim0: u64, offset: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(version.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        s(&mut b, "k");
        b.extend(4u32.to_le_bytes());
        b.extend(7u32.to_le_bytes());
        s(&mut b, "w");
        b.extend(2u32.to_le_bytes());
        b.extend(dim0.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        b.extend(type_id.to_le_bytes());
        b.extend(offset.to_le_bytes());
        while !b.len().is_multiple_of(32) {
            b.push(0);
        }
        b.extend((0..68u8).collect::<Vec<_>>());
        b
    }

    #[test]
    fn parses_tensor_and_slices_data() {
        let f = GgufFile::from_bytes(small_file(3, 8, 32, 0)).unwrap();
        assert_eq!(f.metadata().get_u64("k").unwrap(), Some(7));
        let t = f.tensor("w").unwrap();
        assert_eq!(t.ggml_type, GgmlType::Q8_0);
        assert_eq!((t.n_elements, t.n_bytes, t.n_rows()), (64, 68, 2));
        let d = f.tensor_data(t).unwrap();
        assert_eq!(d.len(), 68);
        assert_eq!((d[0], d[67]), (0, 67));
        assert_eq!(f.data_offset() % 32, 0);
        assert!(f.tensor("nope").is_none());
    }

    #[test]
    fn rejects_bad_headers() {
        let e = GgufFile::from_bytes(small_file(1, 8, 32, 0)).unwrap_err();
        assert!(matches!(e, GgufError::UnsupportedVersion(1)), "{e}");
        let mut bad = small_file(3, 8, 32, 0);
        bad[0] = b'X';
        assert!(matches!(
            GgufFile::from_bytes(bad).unwrap_err(),
            GgufError::BadMagic(_)
        ));
        // Row not a multiple of the block size.
        let e = GgufFile::from_bytes(small_file(3, 8, 31, 0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"w\"") && e.contains("block size"), "{e}");
        // Unknown type id.
        let e = GgufFile::from_bytes(small_file(3, 77, 32, 0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"w\"") && e.contains("77"), "{e}");
        // Misaligned offset, and data past the end of the file.
        let e = GgufFile::from_bytes(small_file(3, 8, 32, 4))
            .unwrap_err()
            .to_string();
        assert!(e.contains("alignment"), "{e}");
        let e = GgufFile::from_bytes(small_file(3, 8, 32, 32))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the data section"), "{e}");
        // Foreign TensorInfo cannot read out of bounds.
        let f = GgufFile::from_bytes(small_file(3, 8, 32, 0)).unwrap();
        let mut t = f.tensor("w").unwrap().clone();
        t.offset = u64::MAX - 3;
        assert!(f.tensor_data(&t).is_err());
    }

    #[test]
    fn absurd_counts_are_rejected_without_allocating() {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        s(&mut b, "arr");
        b.extend(9u32.to_le_bytes());
        b.extend(8u32.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        let e = GgufFile::from_bytes(b).unwrap_err().to_string();
        assert!(e.contains("\"arr\"") && e.contains("cannot fit"), "{e}");

        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        let e = GgufFile::from_bytes(b).unwrap_err().to_string();
        assert!(e.contains("tensor count"), "{e}");
    }
}
