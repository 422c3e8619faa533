//! Signatures over the documents chatvault writes beside archives (manifests, media and
//! catalog records, seals), so anyone holding the public key can tell they were written by
//! the holder of the private key and not changed since.
//!
//! Ed25519 through aws-lc-rs, which rustls and object_store already bring in: no second
//! crypto stack. Keys are PKCS#8 (private) and SubjectPublicKeyInfo (public) in PEM, so
//! `openssl pkey` reads them too. A signature is embedded in the document it signs, as the
//! top-level `signature` member, over the RFC 8785 (JCS) canonical bytes of the document
//! without that member: whitespace, key order and number spelling cannot break it, so a
//! document re-serialised by another tool still verifies.

mod document;
mod keys;

pub use document::{Check, SIGNATURE_FIELD, Signature, canonical, check, signed_json};
pub use keys::{KeyError, Keyring, PublicKey, SigningKey};
