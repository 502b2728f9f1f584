//! The cache key of a task run.

use std::fmt;

use crate::manifest::ParamValue;

/// Version of the key layout; a change here invalidates every stored entry.
const KEY_VERSION: &[u8] = b"wflow-cache-key-v1";

/// A blake3 hash of everything that can change a task's output: the
/// component's bytes, the input bytes, the flow name, the task id and the
/// parameters passed to the task. The run id and the attempt are left out,
/// so a task whose output depends on them must not be cached.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Computes the key. `component_hash` is the hex blake3 hash of the
    /// component's bytes; `params` are sorted by name.
    pub fn new(component_hash: &str, flow: &str, task: &str, params: &[(String, ParamValue)], input: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new();
        // Every field is length-prefixed, so that no two field lists hash alike.
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(KEY_VERSION);
        field(component_hash.as_bytes());
        field(flow.as_bytes());
        field(task.as_bytes());
        field(&(params.len() as u64).to_le_bytes());
        for (name, value) in params {
            field(name.as_bytes());
            field(param_bytes(value).as_slice());
        }
        field(input);
        CacheKey(*hasher.finalize().as_bytes())
    }

    /// Reads a key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CacheKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Formats the key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Reads a key written by [`CacheKey::to_hex`].
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(CacheKey(bytes))
    }
}

/// Encodes a parameter value as bytes, with its type tag, so that the string "10"
/// and the integer 10 give different keys.
fn param_bytes(value: &ParamValue) -> Vec<u8> {
    let (tag, body) = match value {
        ParamValue::String(text) => (b's', text.as_bytes().to_vec()),
        ParamValue::Path(path) => (b'p', path.as_os_str().as_encoded_bytes().to_vec()),
        ParamValue::Integer(number) => (b'i', number.to_le_bytes().to_vec()),
        ParamValue::Float(number) => (b'f', number.to_bits().to_le_bytes().to_vec()),
        ParamValue::Boolean(flag) => (b'b', vec![u8::from(*flag)]),
    };
    let mut bytes = vec![tag];
    bytes.extend(body);
    bytes
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(params: &[(String, ParamValue)], input: &[u8]) -> CacheKey {
        CacheKey::new("abc", "flow", "task", params, input)
    }

    #[test]
    fn key_changes_with_each_field() {
        let base = key(&[], b"input");
        assert_ne!(base, key(&[], b"input2"));
        assert_ne!(base, CacheKey::new("abd", "flow", "task", &[], b"input"));
        assert_ne!(base, CacheKey::new("abc", "flow2", "task", &[], b"input"));
        assert_ne!(base, CacheKey::new("abc", "flow", "task2", &[], b"input"));
        assert_ne!(base, key(&[("n".into(), ParamValue::Integer(1))], b"input"));
        assert_eq!(base, key(&[], b"input"));
    }

    #[test]
    fn key_hex_round_trips() {
        let key = key(&[], b"input");
        assert_eq!(CacheKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(CacheKey::from_hex("zz"), None);
    }

    #[test]
    fn key_tells_param_types_apart() {
        let text = key(&[("n".into(), ParamValue::String("1".into()))], b"");
        let number = key(&[("n".into(), ParamValue::Integer(1))], b"");
        assert_ne!(text, number);
    }

    #[test]
    fn key_fields_do_not_run_together() {
        assert_ne!(CacheKey::new("ab", "c", "task", &[], b""), CacheKey::new("a", "bc", "task", &[], b""));
    }
}
