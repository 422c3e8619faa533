//! `chatvault keys generate`: a new signing key pair; and the key the global config names,
//! loaded for the commands that sign what they write (`run`, `media`, `index`).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::{exit, output};
use crate::cli::{KeysArgs, KeysCommand, KeysGenerateArgs};
use crate::config::Settings;
use crate::config::job::SecretSource;
use crate::signing::{KeyError, Keyring, PublicKey, SigningKey};
use crate::text::escape_hidden;

pub fn run(args: &KeysArgs) -> u8 {
    match &args.command {
        KeysCommand::Generate(generate_args) => generate(generate_args),
    }
}

/// Why `keys generate` wrote no key, or not all it was asked to.
#[derive(Debug, Error)]
#[non_exhaustive]
enum GenerateError {
    #[error("{} exists already: chatvault never overwrites a key file", path.display())]
    Exists { path: PathBuf },
    #[error("--out and --public-out both name {}: the two keys need two files", path.display())]
    Same { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(#[from] KeyError),
}

impl GenerateError {
    fn hint(&self) -> Option<&'static str> {
        match self {
            GenerateError::Exists { .. } => {
                Some("name a new file, or move the old one away if it is really not needed")
            }
            GenerateError::Same { .. } | GenerateError::Write { .. } | GenerateError::Key(_) => {
                None
            }
        }
    }
}

fn generate(args: &KeysGenerateArgs) -> u8 {
    match write_pair(args) {
        Ok(()) => exit::OK,
        Err(e) => {
            output::report(&e, e.hint());
            exit::FAILED
        }
    }
}

fn write_pair(args: &KeysGenerateArgs) -> Result<(), GenerateError> {
    if let Some(public_out) = &args.public_out {
        if public_out == &args.out {
            return Err(GenerateError::Same {
                path: public_out.clone(),
            });
        }
        // Checked first so that a taken --public-out does not leave a new private key behind.
        if public_out.symlink_metadata().is_ok() {
            return Err(GenerateError::Exists {
                path: public_out.clone(),
            });
        }
    }
    let (key, private_pem) = SigningKey::generate()?;
    create_new(&args.out, &private_pem, 0o600)?;
    let public_pem = key.public().to_pem();
    if let Some(public_out) = &args.public_out
        && let Err(e) = create_new(public_out, &public_pem, 0o644)
    {
        // A pair half written is no pair: the private key nobody was told of goes too.
        let _ = std::fs::remove_file(&args.out);
        return Err(e);
    }
    output::stdout(&public_pem);
    let out = escape_hidden(&args.out.to_string_lossy()).into_owned();
    output::stderr(&format!(
        "wrote the private key {id} to {out} (mode 0600); its public key is above.\n\
         next: give the public key to whoever checks the archives (`verify --public-key`, \
         signing.public_key_files), keep {out} where only chatvault reads it, and name it in \
         the global config as `signing: {{ key_file: PATH }}` (a relative PATH is read from the \
         config's folder)\n",
        id = key.public().id(),
    ));
    Ok(())
}

/// Writes `text` to a new file at `path` with `mode` from the moment it exists (never a
/// moment readable by others); an existing file is left alone.
fn create_new(path: &Path, text: &str, mode: u32) -> Result<(), GenerateError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            GenerateError::Exists {
                path: path.to_owned(),
            }
        } else {
            GenerateError::Write {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        // Our own half-written file: nothing else can have used it.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(GenerateError::Write {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}

/// Why the configured signing key cannot be used. Names where the key came from, never its
/// text.
#[derive(Debug, Error)]
#[non_exhaustive]
pub(super) enum LoadError {
    #[error("{what} is empty: is its variable set?")]
    Empty { what: String },
    #[error("{0}")]
    Key(#[from] KeyError),
    /// A file `signing.public_key_files` names.
    #[error("{0}")]
    Public(KeyError),
}

impl LoadError {
    /// What to do about it.
    pub(super) fn hint(&self) -> Option<&'static str> {
        match self {
            LoadError::Empty { .. } => {
                Some("set the variable signing.key names, or use signing.key_file")
            }
            LoadError::Key(KeyError::NotPrivate { .. }) => Some(
                "`chatvault keys generate --out FILE` makes a key; name it with signing.key_file \
                 (or signing.key as ${VAR}) in the global config",
            ),
            LoadError::Key(KeyError::Read { .. }) => {
                Some("signing.key_file is read relative to the global config's folder")
            }
            LoadError::Public(KeyError::Read { .. }) => Some(
                "each of signing.public_key_files is read relative to the global config's folder",
            ),
            LoadError::Public(_) => Some(
                "signing.public_key_files names public keys (-----BEGIN PUBLIC KEY-----), as \
                 `chatvault keys generate` prints them",
            ),
            LoadError::Key(_) => None,
        }
    }
}

/// The signing key the global config names (`signing.key` or `signing.key_file`), read now;
/// `None` when it names none.
pub(super) fn signing_key(settings: &Settings) -> Result<Option<Arc<SigningKey>>, LoadError> {
    let key = match &settings.signing.key {
        None => return Ok(None),
        Some(SecretSource::File(path)) => SigningKey::from_file(path)?,
        Some(SecretSource::Value(text)) => {
            let what = match &settings.config_file {
                Some(file) => format!("signing.key in {}", file.display()),
                None => "signing.key".to_owned(),
            };
            // An unset variable is only a warning where commands do not print warnings.
            if text.trim().is_empty() {
                return Err(LoadError::Empty { what });
            }
            SigningKey::from_pem(text, &what)?
        }
    };
    tracing::info!(key_id = key.public().id(), "signing with key");
    Ok(Some(Arc::new(key)))
}

/// The configured signing key (if any) and the deployment's keys with it: what a command
/// that writes records and checks what it acts on (`expire`, `erase`) needs.
pub(super) fn signer_and_keys(
    settings: &Settings,
) -> Result<(Option<Arc<SigningKey>>, Keyring), LoadError> {
    let signer = signing_key(settings)?;
    let keyring = deployment_keys(signer.as_deref(), settings)?;
    Ok((signer, keyring))
}

/// The keys a deployment's documents verify with: its own signing key's public half, when it
/// signs, and the global config's `signing.public_key_files` (documents signed before a key
/// rotation, or by the deployment's key where this process holds only the public half).
pub(super) fn deployment_keys(
    own: Option<&SigningKey>,
    settings: &Settings,
) -> Result<Keyring, LoadError> {
    let mut keyring = Keyring::default();
    if let Some(key) = own {
        keyring.add(key.public().clone());
    }
    configured_keys(&mut keyring, settings)?;
    Ok(keyring)
}

/// Adds the keys a check accepts by the global config to `keys`: its `public_key_files`
/// only. The private signing key is never read to check: an auditor's or a viewer's machine
/// has no business holding it, so the current key's public half is listed there too.
pub(super) fn configured_keys(keys: &mut Keyring, settings: &Settings) -> Result<(), LoadError> {
    for path in &settings.signing.public_key_files {
        keys.add(PublicKey::from_file(path).map_err(LoadError::Public)?);
    }
    Ok(())
}
