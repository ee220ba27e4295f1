//! Secrets encrypted at rest: credentials of prerequisites and signing secrets are stored
//! sealed with the operator's key, so a copy of the buckets (a backup, a mirrored stream, a
//! `nats kv get`) gives nobody a usable secret.
//!
//! A sealed value reads `sealed:v1:<base64url, no padding, of nonce ‖ ciphertext ‖ tag>`,
//! ChaCha20-Poly1305 with a 96-bit nonce. The version names the scheme so that a later
//! one can be read alongside. The nonce is the caller's (this crate draws no randomness):
//! it must be random, and never repeat under one key.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of the Poly1305 tag that follows the ciphertext.
const TAG_LEN: usize = 16;

/// Standard base64, with or without its padding.
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// URL-safe base64, with or without its padding.
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a key could not be read or a value not be opened. No message includes the key or
/// what was sealed: these errors are logged and returned to operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealing key is not the base64 of 32 bytes")]
    BadKey,
    #[error("the value is not sealed (it does not start with `{SEALED_PREFIX}`)")]
    NotSealed,
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value cannot be opened: it was sealed with another key, or altered")]
    WrongKeyOrAltered,
}

/// The operator's 32-byte key that seals secrets at rest (and from which the namespaces'
/// default signing secrets are derived, see [`super::signing::derived`]).
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// Reads a key written as base64 of 32 bytes: standard (44 characters, as
    /// `openssl rand -base64 32` writes it) or URL-safe, padded or not, surrounding
    /// whitespace ignored (a key read from a file often ends with a newline).
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        let bytes = STANDARD_ANY_PAD
            .decode(text)
            .or_else(|_| URL_SAFE_ANY_PAD.decode(text))
            .map_err(|_| SealError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key as [`SecretKey::parse`] reads it (standard base64, 44 characters), for
    /// `ontime dev` writing the key it generated.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Seals `plaintext` with `nonce`, which must be random and never used again with
    /// this key (a repeated nonce reveals the XOR of two plaintexts and lets a tag be forged).
    pub fn seal(&self, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> String {
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            // ChaCha20-Poly1305 refuses only plaintexts over 256 GiB, which no secret is.
            .unwrap_or_else(|_| unreachable!("a secret is far below ChaCha20-Poly1305's limit"));
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Opens a value [`SecretKey::seal`] made with this key.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::NotSealed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError::WrongKeyOrAltered)
    }

    /// Opens a sealed text; a value that opens to something other than UTF-8 was not sealed
    /// from text, and is [`SealError::Malformed`].
    pub fn open_str(&self, sealed: &str) -> Result<String, SealError> {
        String::from_utf8(self.open(sealed)?).map_err(|_| SealError::Malformed)
    }

    /// HMAC-SHA256 of `info` keyed by this key: a 32-byte secret bound to `info`, for the
    /// secrets derived from the key (each use of it names its own `info`, so that they are
    /// independent of each other and of the sealing). Kept within the crate, since what it
    /// returns is as secret as the key.
    pub(crate) fn derive(&self, info: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(info);
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&self.0.into())
    }
}

/// Never the key's bytes, so that a key can sit in a config struct that is logged.
impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Whether `value` is a sealed value (of a version this build reads), so that a stored
/// plaintext (written before sealing was turned on) can be told apart and sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn key() -> SecretKey {
        SecretKey::parse(KEY_B64).unwrap()
    }

    #[test]
    fn what_is_sealed_opens() {
        let sealed = key().seal(b"client-secret", [7; NONCE_LEN]);
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("client-secret"));
        assert_eq!(key().open(&sealed).unwrap(), b"client-secret");
        assert_eq!(key().open_str(&sealed).unwrap(), "client-secret");
        let empty = key().seal(b"", [8; NONCE_LEN]);
        assert_eq!(key().open(&empty).unwrap(), b"");
    }

    #[test]
    fn different_nonces_seal_differently() {
        let a = key().seal(b"same", [1; NONCE_LEN]);
        let b = key().seal(b"same", [2; NONCE_LEN]);
        assert_ne!(a, b);
        assert_eq!(key().open(&a).unwrap(), key().open(&b).unwrap());
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let sealed = key().seal(b"secret", [3; NONCE_LEN]);
        let mut raw = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_PREFIX).unwrap())
            .unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            let altered = format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(
                key().open(&altered),
                Err(SealError::WrongKeyOrAltered),
                "byte {i}"
            );
            raw[i] ^= 1;
        }
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = key().seal(b"secret", [4; NONCE_LEN]);
        let other = SecretKey::from_bytes([9; 32]);
        assert_eq!(other.open(&sealed), Err(SealError::WrongKeyOrAltered));
    }

    #[test]
    fn what_is_not_sealed_is_told_apart() {
        assert!(!is_sealed("plain"));
        assert_eq!(key().open("plain"), Err(SealError::NotSealed));
        assert_eq!(key().open("sealed:v1:!!"), Err(SealError::Malformed));
        assert_eq!(key().open("sealed:v1:AAAA"), Err(SealError::Malformed));
        let not_text = key().seal(&[0xff, 0xfe], [5; NONCE_LEN]);
        assert_eq!(key().open_str(&not_text), Err(SealError::Malformed));
    }

    #[test]
    fn keys_are_read_in_either_alphabet_and_nothing_else() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 8 + 3) as u8);
        let standard = base64::engine::general_purpose::STANDARD.encode(bytes);
        let url_safe = URL_SAFE_NO_PAD.encode(bytes);
        assert_ne!(
            standard.trim_end_matches('='),
            url_safe,
            "the test covers both alphabets"
        );
        for text in [standard.clone(), format!("  {standard}\n"), url_safe] {
            assert_eq!(SecretKey::parse(&text).unwrap().0, bytes, "{text}");
        }
        assert_eq!(key().to_base64(), KEY_B64);
        let short = base64::engine::general_purpose::STANDARD.encode([1; 31]);
        let long = base64::engine::general_purpose::STANDARD.encode([1; 33]);
        for bad in ["", "not base64!", &short, &long] {
            assert_eq!(
                SecretKey::parse(bad).unwrap_err(),
                SealError::BadKey,
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_and_errors_show_no_key() {
        let shown = format!("{:?}", key());
        assert_eq!(shown, "SecretKey(***)");
        let err = SecretKey::parse(&format!("{KEY_B64}x"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains(KEY_B64), "{err}");
    }

    #[test]
    fn derived_secrets_depend_on_key_and_info() {
        let a = key().derive(b"one");
        assert_eq!(a, key().derive(b"one"));
        assert_ne!(a, key().derive(b"two"));
        assert_ne!(a, SecretKey::from_bytes([9; 32]).derive(b"one"));
    }
}
