//! Signatures of calls, as the Standard Webhooks specification defines them
//! (<https://www.standardwebhooks.com>), so that a target can check a call is ontime's with
//! any of the specification's libraries.
//!
//! Every call carries `webhook-id` (its delivery id) and `webhook-timestamp` (unix seconds);
//! `webhook-signature` is `v1,<base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`,
//! one per active secret, separated by a space: while a secret is rotated, old and new both
//! sign, and a target that knows either accepts the call.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::seal::SecretKey;

/// What a signing secret starts with, as the specification writes it.
pub const SECRET_PREFIX: &str = "whsec_";
/// Fewest bytes of a signing secret (the specification's own example has 24).
pub const MIN_SECRET_LEN: usize = 24;
/// Most bytes of a signing secret (the specification's upper bound).
pub const MAX_SECRET_LEN: usize = 64;

/// The label of the namespaces' derived secrets, so that they are independent of anything
/// else derived from the same key.
const DERIVED_LABEL: &[u8] = b"ontime-signing-secret\0";

/// Standard base64, with or without its padding (some tools drop it).
const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a signing secret was refused. No message includes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningSecretError {
    #[error("a signing secret is `{SECRET_PREFIX}` followed by standard base64")]
    NotBase64,
    #[error(
        "a signing secret is {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes; this one is {0} bytes"
    )]
    Length(usize),
}

/// A secret that signs calls.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Reads `whsec_<base64>`, the prefix optional as in the specification's libraries.
    pub fn parse(text: &str) -> Result<Self, SigningSecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let bytes = STANDARD_ANY_PAD
            .decode(encoded)
            .map_err(|_| SigningSecretError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// A secret of these bytes, held to the same length as a parsed one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SigningSecretError> {
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&bytes.len()) {
            return Err(SigningSecretError::Length(bytes.len()));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// A new secret of 32 random bytes the caller drew.
    pub fn generate_from(bytes: [u8; 32]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret itself, `whsec_<base64>`: shown once, when it is created, and stored only
    /// sealed. Named so that a call to it stands out in a review.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// A fingerprint that names the secret without revealing any of it, for reads and logs:
    /// `sha256:` and the first 8 hex digits of the SHA-256 of its bytes. A fingerprint rather
    /// than the first characters of the secret, which would give away part of it (and tell
    /// apart two secrets no better). Whoever holds the secret computes the same with
    /// `echo <base64 after whsec_> | base64 -d | sha256sum | cut -c1-8`.
    pub fn hint(&self) -> String {
        let digest = Sha256::digest(&self.0);
        format!("sha256:{}", crate::hex(&digest[..4]))
    }

    /// `v1,<base64 of the HMAC>` of one message.
    fn signature(&self, content: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(content);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Never the secret, only its [`SigningSecret::hint`].
impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningSecret({})", self.hint())
    }
}

/// The `webhook-signature` header of a call: one signature per secret, separated by a
/// space. `None` when there is no secret (the call goes unsigned).
pub fn sign(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let content = signed_content(msg_id, timestamp, body);
    let signatures: Vec<String> = secrets.iter().map(|s| s.signature(&content)).collect();
    Some(signatures.join(" "))
}

/// What is signed: `{id}.{timestamp}.{body}`.
fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let head = format!("{msg_id}.{timestamp}.");
    let mut content = Vec::with_capacity(head.len() + body.len());
    content.extend_from_slice(head.as_bytes());
    content.extend_from_slice(body);
    content
}

/// A namespace's default signing secret: HMAC-SHA256 of
/// `"ontime-signing-secret\0" + namespace` keyed by the operator's key. Used while the
/// namespace has no secret of its own, so that every call is signed and every worker
/// computes the same secret with no state shared between them. (The NUL ends the label, so
/// no namespace name can make another label's input.)
pub fn derived(key: &SecretKey, namespace: &str) -> SigningSecret {
    let mut info = Vec::with_capacity(DERIVED_LABEL.len() + namespace.len());
    info.extend_from_slice(DERIVED_LABEL);
    info.extend_from_slice(namespace.as_bytes());
    SigningSecret::generate_from(key.derive(&info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use standardwebhooks::Webhook;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn secret(fill: u8) -> SigningSecret {
        SigningSecret::generate_from([fill; 32])
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// The headers of a call as a target receives them.
    fn headers(msg_id: &str, timestamp: i64, signature: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", msg_id.parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    #[test]
    fn the_specifications_example_signs_the_same() {
        let secret = SigningSecret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            sign(&[secret], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn the_reference_library_verifies_a_signature() {
        let s = secret(1);
        let body = br#"{"order": 42}"#;
        let ts = now();
        let header = sign(std::slice::from_ref(&s), "d-1", ts, body).unwrap();
        let webhook = Webhook::new(&s.expose()).unwrap();
        webhook.verify(body, &headers("d-1", ts, &header)).unwrap();
        assert!(
            webhook
                .verify(br#"{"order": 43}"#, &headers("d-1", ts, &header))
                .is_err()
        );
        assert!(webhook.verify(body, &headers("d-2", ts, &header)).is_err());
        assert!(
            webhook
                .verify(body, &headers("d-1", ts + 1, &header))
                .is_err()
        );
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let (old, new) = (secret(1), secret(2));
        let body = b"rotating";
        let ts = now();
        let header = sign(&[old.clone(), new.clone()], "d-1", ts, body).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        for s in [&old, &new] {
            let webhook = Webhook::new(&s.expose()).unwrap();
            webhook.verify(body, &headers("d-1", ts, &header)).unwrap();
            assert!(
                webhook
                    .verify(b"rotated", &headers("d-1", ts, &header))
                    .is_err()
            );
        }
        let stranger = Webhook::new(&secret(3).expose()).unwrap();
        assert!(stranger.verify(body, &headers("d-1", ts, &header)).is_err());
    }

    #[test]
    fn no_secret_no_signature() {
        assert_eq!(sign(&[], "d-1", 0, b""), None);
    }

    #[test]
    fn secrets_are_read_with_or_without_their_prefix() {
        let with = SigningSecret::parse(SPEC_SECRET).unwrap();
        let without = SigningSecret::parse(SPEC_SECRET.trim_start_matches(SECRET_PREFIX)).unwrap();
        assert_eq!(with.0, without.0);
        assert_eq!(with.expose(), SPEC_SECRET);
        assert_eq!(
            secret(7).expose(),
            format!("whsec_{}", STANDARD.encode([7; 32]))
        );
        let reparsed = SigningSecret::parse(&secret(7).expose()).unwrap();
        assert_eq!(reparsed.0, secret(7).0);
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert_eq!(
            SigningSecret::parse("whsec_!!").unwrap_err(),
            SigningSecretError::NotBase64
        );
        let short = format!("whsec_{}", STANDARD.encode([1; 23]));
        let long = format!("whsec_{}", STANDARD.encode([1; 65]));
        assert_eq!(
            SigningSecret::parse(&short).unwrap_err(),
            SigningSecretError::Length(23)
        );
        assert_eq!(
            SigningSecret::parse(&long).unwrap_err(),
            SigningSecretError::Length(65)
        );
        assert!(SigningSecret::parse("").is_err());
        assert!(SigningSecret::from_bytes(&[1; 64]).is_ok());
        assert!(SigningSecret::from_bytes(&[1; 24]).is_ok());
    }

    #[test]
    fn hints_and_debug_reveal_nothing() {
        let s = SigningSecret::parse(SPEC_SECRET).unwrap();
        let hint = s.hint();
        assert!(hint.starts_with("sha256:") && hint.len() == 15, "{hint}");
        assert_eq!(hint, s.hint());
        assert_ne!(hint, secret(1).hint());
        let shown = format!("{s:?}");
        assert_eq!(shown, format!("SigningSecret({hint})"));
        assert!(!shown.contains("MfKQ"), "{shown}");
    }

    #[test]
    fn derived_secrets_are_per_namespace_and_per_key() {
        let key = SecretKey::from_bytes([5; 32]);
        let billing = derived(&key, "billing");
        assert_eq!(billing.0, derived(&key, "billing").0);
        assert_ne!(billing.0, derived(&key, "payroll").0);
        assert_ne!(
            billing.0,
            derived(&SecretKey::from_bytes([6; 32]), "billing").0
        );
        let ts = now();
        let header = sign(std::slice::from_ref(&billing), "d-1", ts, b"{}").unwrap();
        let webhook = Webhook::new(&billing.expose()).unwrap();
        webhook.verify(b"{}", &headers("d-1", ts, &header)).unwrap();
    }
}
