//! Site, desk and username codes: the one rule the hub (when a coordinator
//! creates them) and the desk (when enrollment names them) both apply, so a
//! code the hub hands out is never refused by the desk that receives it.
//! Codes appear in URLs, file names and exports: plain, short, and never a
//! path step (`.`, `..`).

/// The longest code, in bytes (all of them ASCII).
pub const CODE_MAX: usize = 32;

/// Why a code was refused: the message names the field and the value seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", self.message())]
pub struct CodeError {
    pub field: String,
    pub seen: String,
}

impl CodeError {
    /// The reason without the field's name (for errors that carry it apart).
    pub fn message(&self) -> String {
        format!("1-{CODE_MAX} letters, digits, '-', '_' or '.' expected (not starting with '.'), got {:?}", self.seen)
    }
}

/// The code, trimmed, or why it is not one.
pub fn check_code(field: &str, v: &str) -> Result<String, CodeError> {
    let v = v.trim();
    let ok = !v.is_empty()
        && v.len() <= CODE_MAX
        && !v.starts_with('.')
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(v.to_string())
    } else {
        // Show at most a short prefix of what was sent: it may be anything.
        Err(CodeError { field: field.to_string(), seen: v.chars().take(40).collect() })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accepts_plain_codes_and_refuses_path_steps_and_odd_bytes() {
        for ok in ["QN-01", "HN.01", "d_2", "A", &"x".repeat(32)] {
            assert_eq!(check_code("site", ok).unwrap(), ok);
        }
        assert_eq!(check_code("desk", "  D1 ").unwrap(), "D1");
        for bad in ["", " ", ".", "..", ".hidden", "a/b", "a b", "Đ1", "a\r\nb", "a\"b", &"x".repeat(33)] {
            let e = check_code("site", bad).unwrap_err();
            assert!(e.to_string().starts_with("site: 1-32 letters"), "{e}");
        }
    }
}
