//! Secrets at rest: provider tokens and model API keys are sealed with AES-256-GCM under one
//! server key (`BOOKERBOT_SECRETS_KEY`) before they reach the database, so a dump of the
//! database alone reveals none of them.
//!
//! A sealed blob is `version (1 byte) || nonce (12 random bytes) || ciphertext || tag (16 bytes)`.
//! The caller binds each blob to where it belongs through the associated data (the tenant's id
//! and what the secret is for): a blob copied to another tenant or another column no longer
//! opens.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use rand::RngCore;
use thiserror::Error;

/// The format of blobs sealed now.
const VERSION: u8 = 1;
/// Bytes of the random nonce.
const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag.
const TAG_LEN: usize = 16;
/// Bytes of a key.
const KEY_LEN: usize = 32;

/// Why a key could not be read or a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    /// The configured key is neither 64 hex characters nor the base64 of 32 bytes.
    #[error("the secrets key must be 64 hex characters or the base64 of 32 bytes")]
    InvalidKey,
    /// The plaintext is too large for AES-GCM (over 64 GiB).
    #[error("the secret is too large to seal")]
    TooLarge,
    /// The blob is too short to hold a version, a nonce and a tag.
    #[error("the sealed secret is truncated")]
    Truncated,
    /// The blob was sealed in a format this version does not know.
    #[error("the sealed secret has unknown format version {0}")]
    UnknownVersion(u8),
    /// Authentication failed: another key, other associated data, or altered bytes.
    #[error("the sealed secret cannot be opened: wrong key, wrong owner or altered bytes")]
    Unauthentic,
}

/// A secret text held in memory (a token, an API key) on its way to being sealed: `Debug`
/// prints `<secret>`, so it cannot leak into logs through a struct that holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// Seals and opens secrets with one AES-256-GCM key. `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(<key hidden>)")
    }
}

impl SecretBox {
    /// A box over `key`.
    pub fn new(key: [u8; KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        }
    }

    /// A box over a configured key: 64 hex characters, or standard base64 of 32 bytes
    /// (`openssl rand -hex 32`, `openssl rand -base64 32`). Surrounding whitespace is ignored.
    pub fn from_config(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_LEN && text.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| SecretError::InvalidKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| SecretError::InvalidKey)?
        };
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SecretError::InvalidKey)?;
        Ok(Self::new(key))
    }

    /// A fresh random key written as [`SecretBox::from_config`] reads it (64 hex characters).
    pub fn generate_key_text() -> String {
        let mut key = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// Seals `plaintext`, bound to `aad`, under a fresh random nonce: sealing the same secret
    /// twice gives different blobs.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SecretError::TooLarge)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a blob made by [`SecretBox::seal`] with the same key and the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretError> {
        let (&version, rest) = sealed.split_first().ok_or(SecretError::Truncated)?;
        if version != VERSION {
            return Err(SecretError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Truncated);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SecretError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn sealer() -> SecretBox {
        SecretBox::new([7; 32])
    }

    #[test]
    fn a_sealed_secret_opens_with_the_same_key_and_aad() {
        let sealed = sealer().seal(b"token-123", b"tenant:twilio").unwrap();
        assert_eq!(sealed[0], VERSION);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + b"token-123".len() + TAG_LEN);
        assert_eq!(
            sealer().open(&sealed, b"tenant:twilio").unwrap(),
            b"token-123"
        );
        assert!(!sealed.windows(9).any(|w| w == b"token-123"));
    }

    #[test]
    fn another_key_other_aad_or_an_altered_byte_do_not_open() {
        let sealed = sealer().seal(b"token-123", b"tenant-a").unwrap();
        let other_key = SecretBox::new([8; 32]);
        assert_eq!(
            other_key.open(&sealed, b"tenant-a"),
            Err(SecretError::Unauthentic)
        );
        assert_eq!(
            sealer().open(&sealed, b"tenant-b"),
            Err(SecretError::Unauthentic)
        );
        for index in 1..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 0x01;
            assert_eq!(
                sealer().open(&altered, b"tenant-a"),
                Err(SecretError::Unauthentic),
                "byte {index}"
            );
        }
        let mut other_version = sealed.clone();
        other_version[0] = 9;
        assert_eq!(
            sealer().open(&other_version, b"tenant-a"),
            Err(SecretError::UnknownVersion(9))
        );
        assert_eq!(
            sealer().open(&sealed[..20], b"tenant-a"),
            Err(SecretError::Truncated)
        );
        assert_eq!(sealer().open(&[], b"tenant-a"), Err(SecretError::Truncated));
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let first = sealer().seal(b"same", b"aad").unwrap();
        let second = sealer().seal(b"same", b"aad").unwrap();
        assert_ne!(first, second);
        assert_ne!(first[1..1 + NONCE_LEN], second[1..1 + NONCE_LEN]);
    }

    #[test]
    fn keys_are_read_from_hex_or_base64_and_anything_else_is_refused() {
        let hex_key = "07".repeat(32);
        let b64_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let sealed = sealer().seal(b"x", b"aad").unwrap();
        for text in [
            hex_key.clone(),
            format!(" {b64_key}\n"),
            hex_key.to_uppercase(),
        ] {
            let from_config = SecretBox::from_config(&text).unwrap();
            assert_eq!(from_config.open(&sealed, b"aad").unwrap(), b"x");
        }
        for bad in [
            "",
            "07",
            &"0".repeat(63),
            &"zz".repeat(32),
            &base64::engine::general_purpose::STANDARD.encode([7u8; 31]),
            "not base64 at all!",
        ] {
            assert_eq!(
                SecretBox::from_config(bad).unwrap_err(),
                SecretError::InvalidKey,
                "{bad:?}"
            );
        }
        let generated = SecretBox::generate_key_text();
        assert_eq!(generated.len(), 64);
        assert!(SecretBox::from_config(&generated).is_ok());
    }

    #[test]
    fn debug_hides_the_key_and_secrets() {
        let shown = format!("{:?}", SecretBox::new([0xab; 32]));
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "<secret>");
        assert_eq!(Secret::new("hunter2").expose(), "hunter2");
    }
}
