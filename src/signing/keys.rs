//! Key pairs and public keys: generated, read from PEM (text or a file whose mode is
//! checked), identified by a short id that signatures name.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, ParsedPublicKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

const PRIVATE_TAG: &str = "PRIVATE KEY";
const PUBLIC_TAG: &str = "PUBLIC KEY";

/// Why a key could not be had. Never holds key material: a PEM that does not parse is named
/// by where it came from only.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("cannot read the key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the private key file {} can be read by others (mode {mode:o}): run chmod 600 on it",
        path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{what} is not an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)")]
    NotPrivate { what: String },
    #[error("{what} is not an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)")]
    NotPublic { what: String },
    #[error("cannot make a key: the system's random source failed")]
    Generate,
}

/// A private key that signs. `Debug` shows its id only.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public.id)
    }
}

impl SigningKey {
    /// A new key, and its PKCS#8 PEM to store: version 1 (the private key alone), which
    /// OpenSSL 3.0 and most tools read; version 2 documents, which carry the public key too,
    /// are refused by `openssl pkey` there.
    pub fn generate() -> Result<(SigningKey, String), KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new())
            .map_err(|_| KeyError::Generate)?;
        let der = document.as_ref().to_vec();
        let key = SigningKey::from_der(&der, "the new key")?;
        Ok((key, to_pem(PRIVATE_TAG, der)))
    }

    /// The key in `text` (PKCS#8 PEM); `what` names where it came from in errors.
    pub fn from_pem(text: &str, what: &str) -> Result<SigningKey, KeyError> {
        let not = || KeyError::NotPrivate {
            what: what.to_owned(),
        };
        let block = pem::parse(text.trim()).map_err(|_| not())?;
        if block.tag() != PRIVATE_TAG {
            return Err(not());
        }
        SigningKey::from_der(block.contents(), what)
    }

    /// The key in the file at `path`, which only its owner may read.
    pub fn from_file(path: &Path) -> Result<SigningKey, KeyError> {
        check_private_mode(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        SigningKey::from_pem(&text, &format!("the key file {}", path.display()))
    }

    fn from_der(der: &[u8], what: &str) -> Result<SigningKey, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::NotPrivate {
            what: what.to_owned(),
        })?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| KeyError::NotPrivate {
                what: what.to_owned(),
            })?;
        let public = PublicKey::from_der(spki.as_ref(), what)?;
        Ok(SigningKey { pair, public })
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The raw Ed25519 signature of `message`.
    pub(super) fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// A public key that verifies, with its id: the first 16 hex digits of the SHA-256 of its
/// SubjectPublicKeyInfo DER, enough to tell a handful of rotated keys apart.
#[derive(Clone)]
pub struct PublicKey {
    parsed: ParsedPublicKey,
    der: Vec<u8>,
    id: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl PublicKey {
    /// The key in `text` (SubjectPublicKeyInfo PEM); `what` names where it came from.
    pub fn from_pem(text: &str, what: &str) -> Result<PublicKey, KeyError> {
        let not = || KeyError::NotPublic {
            what: what.to_owned(),
        };
        let block = pem::parse(text.trim()).map_err(|_| not())?;
        if block.tag() != PUBLIC_TAG {
            return Err(not());
        }
        PublicKey::from_der(block.contents(), what)
    }

    /// The key in the file at `path`.
    pub fn from_file(path: &Path) -> Result<PublicKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        PublicKey::from_pem(&text, &format!("the public key file {}", path.display()))
    }

    fn from_der(der: &[u8], what: &str) -> Result<PublicKey, KeyError> {
        let parsed = ParsedPublicKey::new(&ED25519, der).map_err(|_| KeyError::NotPublic {
            what: what.to_owned(),
        })?;
        let digest = Sha256::digest(der);
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(PublicKey {
            parsed,
            der: der.to_vec(),
            id,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn to_pem(&self) -> String {
        to_pem(PUBLIC_TAG, self.der.clone())
    }

    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }
}

/// The public keys a check accepts: several, so archives signed before a key rotation still
/// verify.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<PublicKey>,
}

impl Keyring {
    /// Adds `key` unless a key with its id is there already.
    pub fn add(&mut self, key: PublicKey) {
        if !self.keys.iter().any(|k| k.id == key.id) {
            self.keys.push(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(PublicKey::id)
    }

    pub(super) fn get(&self, id: &str) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// PEM with Unix line ends, as `openssl` writes it (the crate's default is CRLF).
fn to_pem(tag: &str, der: Vec<u8>) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der), config)
}

/// A private key file must not be readable by group or others, as ssh insists too.
#[cfg(unix)]
fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_: &Path) -> Result<(), KeyError> {
    Ok(())
}
