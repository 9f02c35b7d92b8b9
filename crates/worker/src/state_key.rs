//! [`StateKey`]: the key every node of a store shares to seal sensitive variable values at
//! rest (XChaCha20-Poly1305: authenticated encryption, a fresh random 24-byte nonce per value).
//!
//! A key is 32 bytes, given as 64 hex digits or as base64 (standard or URL-safe, padded or
//! not), in `SERVICETASK_STATE_KEY` or in a file. Its id, the first 8 hex digits of a SHA-256
//! over a fixed label and the key, is stored beside every ciphertext, so a value sealed under
//! another key is told apart from a damaged one (and keys can be rotated later). Nothing here
//! ever formats the key or the text it was read from: errors say what is wrong with it
//! (its length, its encoding), never what it is.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest as _;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// A 32-byte key for sealing sensitive values at rest, with its id.
#[derive(Clone)]
pub struct StateKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Why a key could not be read. Never holds the key or any part of its text.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is neither 64 hex digits nor base64.
    #[error("the state key is neither 64 hex digits nor base64 (of {KEY_BYTES} bytes)")]
    Encoding,
    /// It decodes, to the wrong number of bytes.
    #[error("the state key decodes to {0} bytes; it must be {KEY_BYTES} (e.g. `openssl rand -base64 32`)")]
    Length(usize),
    /// The key file could not be read.
    #[error("reading the state key file {}: {source}", path.display())]
    Read {
        /// The file (a path may be shown; the key never).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file holds a bad key.
    #[error("the state key file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        source: Box<KeyError>,
    },
}

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed under a key other than this one.
    #[error("it was sealed with state key {sealed_with}, and this node's key is {ours}")]
    OtherKey {
        /// The id stored beside the ciphertext.
        sealed_with: String,
        /// This key's id.
        ours: String,
    },
    /// The ciphertext does not verify under this key: damaged, or moved from elsewhere.
    #[error("its ciphertext does not verify under state key {0} (damaged, or not sealed for this variable)")]
    Damaged(String),
    /// Not a sealed value this program writes.
    #[error("it is not a sealed value this program writes")]
    Malformed,
}

impl StateKey {
    /// The key written in `text` (64 hex digits or base64 of 32 bytes; surrounding
    /// whitespace ignored).
    pub fn parse(text: &str) -> Result<StateKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..KEY_BYTES)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| KeyError::Encoding))
                .collect::<Result<Vec<u8>, _>>()?
        } else {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .ok_or(KeyError::Encoding)?
        };
        Self::from_bytes(&bytes)
    }

    /// The key held in the file at `path` (the same encodings as [`StateKey::parse`]).
    pub fn from_file(path: &Path) -> Result<StateKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| KeyError::File {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// The key `bytes` (exactly 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<StateKey, KeyError> {
        if bytes.len() != KEY_BYTES {
            return Err(KeyError::Length(bytes.len()));
        }
        let mut h = sha2::Sha256::new();
        h.update(b"servicetask state key id\0");
        h.update(bytes);
        let id = h.finalize()[..4].iter().map(|b| format!("{b:02x}")).collect();
        let cipher = XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(StateKey { id, cipher })
    }

    /// Its id (stored beside each ciphertext; says nothing of the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `plain` sealed, bound to `context` (it opens only with the same context), as
    /// `v1:KEYID:NONCE:CIPHERTEXT` (base64).
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> String {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            // only fails past 256 GiB per message
            .unwrap_or_default();
        let b64 = &base64::engine::general_purpose::STANDARD_NO_PAD;
        format!("v1:{}:{}:{}", self.id, b64.encode(nonce), b64.encode(sealed))
    }

    /// The plain bytes of `sealed` (from [`StateKey::seal`] with the same `context`).
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut parts = sealed.split(':');
        let (Some("v1"), Some(id), Some(nonce), Some(ct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::Malformed);
        };
        if id != self.id {
            return Err(OpenError::OtherKey {
                sealed_with: id.to_string(),
                ours: self.id.clone(),
            });
        }
        let b64 = &base64::engine::general_purpose::STANDARD_NO_PAD;
        let damaged = || OpenError::Damaged(self.id.clone());
        let nonce = b64.decode(nonce).map_err(|_| damaged())?;
        let ct = b64.decode(ct).map_err(|_| damaged())?;
        if nonce.len() != NONCE_BYTES {
            return Err(damaged());
        }
        self.cipher
            .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ct, aad: context })
            .map_err(|_| damaged())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_and_base64_give_the_same_key() {
        let b64 = base64::engine::general_purpose::STANDARD.encode((0u8..32).collect::<Vec<_>>());
        assert_eq!(StateKey::parse(HEX).unwrap().id(), StateKey::parse(&b64).unwrap().id());
        assert_eq!(StateKey::parse(&format!(" {b64}\n")).unwrap().id().len(), 8);
    }

    #[test]
    fn a_bad_key_is_refused_without_echoing_it() {
        for text in ["c2hvcnQ=", "not a key at all!", &HEX[..62]] {
            let e = StateKey::parse(text).unwrap_err().to_string();
            assert!(!e.contains(text), "{e}");
        }
        assert!(matches!(StateKey::parse("c2hvcnQ="), Err(KeyError::Length(5))));
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let k = StateKey::parse(HEX).unwrap();
        let s = k.seal(b"hunter2", b"i1\0password");
        assert!(!s.contains("hunter2"));
        assert_ne!(s, k.seal(b"hunter2", b"i1\0password"), "a fresh nonce per value");
        assert_eq!(k.open(&s, b"i1\0password").unwrap(), b"hunter2");
        assert!(matches!(k.open(&s, b"i2\0password"), Err(OpenError::Damaged(_))));
        let other = StateKey::from_bytes(&[7; 32]).unwrap();
        assert!(matches!(
            other.open(&s, b"i1\0password"),
            Err(OpenError::OtherKey { .. })
        ));
        let mut flipped = s.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(matches!(k.open(&flipped, b"i1\0password"), Err(OpenError::Damaged(_))));
        assert_eq!(k.open("garbage", b""), Err(OpenError::Malformed));
    }
}
