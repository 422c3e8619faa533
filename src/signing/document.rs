//! Signing a JSON document and checking one: the signature travels inside the document, over
//! its canonical bytes without it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{Keyring, SigningKey};

/// The top-level member a signature is embedded as.
pub const SIGNATURE_FIELD: &str = "signature";

const ALGORITHM: &str = "ed25519";

/// A signature as documents carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Always `ed25519` today; a document naming another is not checked, and says so.
    pub algorithm: String,
    /// The id of the public key that verifies it (see [`super::PublicKey::id`]).
    pub key_id: String,
    /// The signature, base64.
    pub value: String,
}

/// The RFC 8785 bytes of `document` without its top-level `signature`: what is signed.
pub fn canonical(document: &Value) -> Result<Vec<u8>, serde_json::Error> {
    match document {
        Value::Object(members) if members.contains_key(SIGNATURE_FIELD) => {
            let mut without = members.clone();
            without.remove(SIGNATURE_FIELD);
            serde_json_canonicalizer::to_vec(&without)
        }
        other => serde_json_canonicalizer::to_vec(other),
    }
}

/// `value` as the pretty JSON stored, signed by `key` when there is one. `value` must
/// serialise to a JSON object (every document chatvault writes does).
pub fn signed_json<T: Serialize>(
    value: &T,
    key: Option<&SigningKey>,
) -> Result<Vec<u8>, serde_json::Error> {
    let Some(key) = key else {
        return serde_json::to_vec_pretty(value);
    };
    let mut document = serde_json::to_value(value)?;
    let signature = Signature {
        algorithm: ALGORITHM.to_owned(),
        key_id: key.public().id().to_owned(),
        value: STANDARD.encode(key.sign_bytes(&canonical(&document)?)),
    };
    if let Value::Object(members) = &mut document {
        members.insert(SIGNATURE_FIELD.to_owned(), serde_json::to_value(signature)?);
    }
    serde_json::to_vec_pretty(&document)
}

/// What a document's signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The document carries no signature.
    Unsigned,
    /// It verifies with the key of this id.
    Valid { key_id: String },
    /// Signed by a key the keyring does not hold: nothing can be said of it.
    UnknownKey { key_id: String },
    /// It does not verify with the key it names: the document changed after it was signed, or
    /// it was signed by someone else under that key's id.
    Invalid { key_id: String },
    /// The bytes are not a JSON document, or its `signature` is not one.
    Malformed { reason: String },
}

/// Checks the signature `bytes` (a stored document) carry against `keys`.
pub fn check(bytes: &[u8], keys: &Keyring) -> Check {
    let document: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Check::Malformed {
                reason: format!("not JSON: {e}"),
            };
        }
    };
    let Some(raw) = document.get(SIGNATURE_FIELD) else {
        return Check::Unsigned;
    };
    let signature: Signature = match serde_json::from_value(raw.clone()) {
        Ok(s) => s,
        Err(e) => {
            return Check::Malformed {
                reason: format!("its signature is not one: {e}"),
            };
        }
    };
    if signature.algorithm != ALGORITHM {
        return Check::Malformed {
            reason: format!(
                "signed with {:?}, which this version cannot check (only {ALGORITHM})",
                signature.algorithm
            ),
        };
    }
    let Some(key) = keys.get(&signature.key_id) else {
        return Check::UnknownKey {
            key_id: signature.key_id,
        };
    };
    let (Ok(message), Ok(raw_signature)) =
        (canonical(&document), STANDARD.decode(&signature.value))
    else {
        return Check::Invalid {
            key_id: signature.key_id,
        };
    };
    if key.verifies(&message, &raw_signature) {
        Check::Valid {
            key_id: signature.key_id,
        }
    } else {
        Check::Invalid {
            key_id: signature.key_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::signing::PublicKey;

    fn keyring(key: &SigningKey) -> Keyring {
        let mut keys = Keyring::default();
        keys.add(key.public().clone());
        keys
    }

    #[test]
    fn a_signed_document_verifies_and_an_edited_one_does_not() {
        let (key, _) = SigningKey::generate().unwrap();
        let bytes = signed_json(&json!({"key": "a.jsonl", "sha256": "ab"}), Some(&key)).unwrap();
        let id = key.public().id().to_owned();
        assert_eq!(
            check(&bytes, &keyring(&key)),
            Check::Valid { key_id: id.clone() }
        );

        let edited = String::from_utf8(bytes)
            .unwrap()
            .replace("\"ab\"", "\"cd\"");
        assert_eq!(
            check(edited.as_bytes(), &keyring(&key)),
            Check::Invalid { key_id: id }
        );
    }

    #[test]
    fn reformatting_and_reordering_keep_a_signature_valid() {
        let (key, _) = SigningKey::generate().unwrap();
        let bytes = signed_json(&json!({"b": 1, "a": "x\u{202e}y"}), Some(&key)).unwrap();
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        let members = value.as_object_mut().unwrap();
        let signature = members.remove(SIGNATURE_FIELD).unwrap();
        let reordered = json!({"signature": signature, "a": "x\u{202e}y", "b": 1});
        let compact = serde_json::to_vec(&reordered).unwrap();
        assert!(matches!(
            check(&compact, &keyring(&key)),
            Check::Valid { .. }
        ));
    }

    #[test]
    fn another_key_under_the_same_id_does_not_verify() {
        let (real, _) = SigningKey::generate().unwrap();
        let (forger, _) = SigningKey::generate().unwrap();
        let bytes = signed_json(&json!({"a": 1}), Some(&forger)).unwrap();
        let forged = String::from_utf8(bytes)
            .unwrap()
            .replace(forger.public().id(), real.public().id());
        assert!(matches!(
            check(forged.as_bytes(), &keyring(&real)),
            Check::Invalid { .. }
        ));
        let bytes = signed_json(&json!({"a": 1}), Some(&forger)).unwrap();
        assert!(matches!(
            check(&bytes, &keyring(&real)),
            Check::UnknownKey { .. }
        ));
    }

    #[test]
    fn unsigned_and_malformed_documents_are_told_apart() {
        let keys = Keyring::default();
        assert_eq!(check(b"{\"a\":1}", &keys), Check::Unsigned);
        assert!(matches!(check(b"{", &keys), Check::Malformed { .. }));
        assert!(matches!(
            check(b"{\"signature\": 3}", &keys),
            Check::Malformed { .. }
        ));
    }

    #[test]
    fn keys_round_trip_through_pem_with_the_same_id() {
        let (key, private_pem) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(&private_pem, "test").unwrap();
        assert_eq!(again.public().id(), key.public().id());
        let public = PublicKey::from_pem(&key.public().to_pem(), "test").unwrap();
        assert_eq!(public.id(), key.public().id());
        assert_eq!(public.id().len(), 16);
        assert!(!private_pem.contains('\r') && private_pem.ends_with("-----\n"));
    }

    #[test]
    fn a_bad_pem_error_names_its_source_and_never_its_text() {
        let secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXRleHQ=\n-----END PRIVATE KEY-----";
        let error = SigningKey::from_pem(secret, "CHATVAULT_SIGNING_KEY").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("CHATVAULT_SIGNING_KEY"), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        let public = SigningKey::generate().unwrap().0.public().to_pem();
        assert!(SigningKey::from_pem(&public, "x").is_err());
    }
}
