//! Rules of the global config.

use std::path::Path;

use chrono_tz::Tz;

use super::{Ctx, MediaFields};
use std::collections::BTreeMap;

use crate::config::interpolate::Env;
use crate::config::job::{
    ApiSettings, Compression, Notify, SecretSource, Settings, SigningSettings,
};
use crate::config::key::KeyTemplate;
use crate::config::model::{ConfigFile, ExportSpec};
use crate::diagnostics::tree::FieldPath;
use crate::schedule::parse_timezone;
use crate::store::url::StoreUrl;
use crate::store::{StoreOptions, check_option};

pub const DEFAULT_BASE_URL: &str = "https://chat.stream-io-api.com";
pub const DEFAULT_STATE_URL: &str = "file://.chatvault/state";
pub const API_KEY_VAR: &str = "STREAM_API_KEY";
pub const API_SECRET_VAR: &str = "STREAM_API_SECRET";

/// The global `defaults`, checked once in the config file so a bad default is reported
/// there, not once per job.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub timezone: Option<Tz>,
    pub url: Option<StoreUrl>,
    /// Options of `url`.
    pub options: StoreOptions,
    pub key: Option<KeyTemplate>,
    pub compression: Option<Compression>,
    pub immutable: Option<bool>,
    pub export: ExportSpec,
    /// The global `notify`, for jobs without their own.
    pub notify: Notify,
    /// `defaults.media`, its fields that passed their rules.
    pub media: MediaFields,
}

pub fn compile_settings(
    spec: &ConfigFile,
    config_file: Option<&Path>,
    base_dir: &Path,
    env: Env<'_>,
    ctx: &mut Ctx<'_, '_>,
) -> (Settings, Defaults) {
    let api = spec.api.clone().unwrap_or_default();
    let root = FieldPath::root().key("api");
    if let (Some(_), Some(_)) = (&api.secret, &api.secret_file) {
        ctx.error_at_key(
            &root.key("secret_file"),
            "set either `secret` or `secret_file`, not both",
        );
    }
    let secret_path = root.key("secret");
    if api.secret.is_some() && !ctx.subs.interpolated.contains(&secret_path) {
        ctx.warning(
            &secret_path,
            format!(
                "the API secret is written inline, so everyone who can read this file has it: \
                 use \"${{{API_SECRET_VAR}}}\" or `secret_file`"
            ),
        );
    }
    let secret = match (api.secret, api.secret_file) {
        (Some(s), _) => Some(SecretSource::Value(s)),
        (None, Some(f)) => Some(SecretSource::File(base_dir.join(f))),
        (None, None) => env(API_SECRET_VAR).map(SecretSource::Value),
    };
    let base_url_path = root.key("base_url");
    let base_url = api.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    if ctx.known(&base_url_path)
        && !(base_url.starts_with("https://") || base_url.starts_with("http://"))
    {
        let shown = ctx.show(&base_url_path, &base_url);
        ctx.error(
            &base_url_path,
            format!("{shown} is not an http(s) URL: expected e.g. {DEFAULT_BASE_URL}"),
        );
    }

    let state_path = FieldPath::root().key("state").key("url");
    let state_text = spec
        .state
        .as_ref()
        .and_then(|s| s.url.clone())
        .unwrap_or_else(|| DEFAULT_STATE_URL.to_owned());
    let state =
        store_url(ctx, &state_path, &state_text, base_dir).unwrap_or_else(|| StoreUrl::File {
            path: base_dir.join(".chatvault/state"),
        });
    let state_options = store_options(
        ctx,
        &FieldPath::root().key("state"),
        &state,
        spec.state.as_ref().and_then(|s| s.options.as_ref()),
    );

    let mut defaults = compile_defaults(spec, base_dir, ctx);
    if let Some(notify) = &spec.notify {
        defaults.notify = super::notify::notify(ctx, &FieldPath::root().key("notify"), notify)
            .unwrap_or_default();
    }
    let settings = Settings {
        config_file: config_file.map(Path::to_path_buf),
        api: ApiSettings {
            key: api.key.or_else(|| env(API_KEY_VAR)),
            secret,
            base_url: base_url.trim_end_matches('/').to_owned(),
        },
        state,
        state_options,
        signing: signing(spec, base_dir, ctx),
        holds: Vec::new(),
    };
    (settings, defaults)
}

/// The global `signing`, by the API secret's rules: one of `key` and `key_file`, and `key`
/// from the environment rather than inline. Files are read when a command needs them, as
/// `api.secret_file` is.
fn signing(spec: &ConfigFile, base_dir: &Path, ctx: &mut Ctx<'_, '_>) -> SigningSettings {
    let Some(signing) = &spec.signing else {
        return SigningSettings::default();
    };
    let root = FieldPath::root().key("signing");
    if let (Some(_), Some(_)) = (&signing.key, &signing.key_file) {
        ctx.error_at_key(
            &root.key("key_file"),
            "set either `key` or `key_file`, not both",
        );
    }
    let key_path = root.key("key");
    if signing.key.is_some() && !ctx.subs.interpolated.contains(&key_path) {
        ctx.warning(
            &key_path,
            "the private signing key is written inline, so everyone who can read this file can \
             sign as chatvault: use \"${SIGNING_KEY}\" (any variable) or `key_file`",
        );
    }
    let key = match (&signing.key, &signing.key_file) {
        (Some(text), _) if ctx.known(&key_path) => Some(SecretSource::Value(text.clone())),
        // An unset variable (a warning where commands go on without it): no text is known,
        // and a command that needs the key says it is empty.
        (Some(_), _) => Some(SecretSource::Value(String::new())),
        (None, Some(file)) => Some(SecretSource::File(base_dir.join(file))),
        (None, None) => None,
    };
    SigningSettings {
        key,
        public_key_files: signing
            .public_key_files
            .iter()
            .flatten()
            .map(|file| base_dir.join(file))
            .collect(),
    }
}

fn compile_defaults(spec: &ConfigFile, base_dir: &Path, ctx: &mut Ctx<'_, '_>) -> Defaults {
    let Some(d) = &spec.defaults else {
        return Defaults::default();
    };
    let root = FieldPath::root().key("defaults");
    let dest = d.destination.clone().unwrap_or_default();
    let dest_path = root.key("destination");
    let url = dest
        .url
        .as_deref()
        .and_then(|u| store_url(ctx, &dest_path.key("url"), u, base_dir));
    Defaults {
        timezone: d
            .timezone
            .as_deref()
            .and_then(|tz| timezone(ctx, &root.key("timezone"), tz)),
        url: url.clone(),
        options: url
            .as_ref()
            .map(|u| store_options(ctx, &dest_path, u, dest.options.as_ref()))
            .unwrap_or_default(),
        key: dest
            .key
            .as_deref()
            .and_then(|k| key_template(ctx, &dest_path.key("key"), k)),
        compression: dest.compression,
        immutable: dest.immutable,
        export: d.export.clone().unwrap_or_default(),
        notify: Notify::default(),
        media: super::media::fields(ctx, &root.key("media"), d.media.as_ref()).0,
    }
}

pub fn timezone(ctx: &mut Ctx<'_, '_>, path: &FieldPath, text: &str) -> Option<Tz> {
    if !ctx.known(path) {
        return None;
    }
    parse_timezone(text)
        .map_err(|e| ctx.refuse(path, e, "an IANA time zone such as Europe/Berlin"))
        .ok()
}

pub fn store_url(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    text: &str,
    base_dir: &Path,
) -> Option<StoreUrl> {
    if !ctx.known(path) {
        return None;
    }
    StoreUrl::parse(text, base_dir)
        .map_err(|e| {
            let expected = "a URL such as s3://bucket/prefix, gs://bucket/prefix or file://path";
            ctx.refuse(path, e, expected);
        })
        .ok()
}

/// Checks option names against the store kind; warns about credentials written inline.
pub fn store_options(
    ctx: &mut Ctx<'_, '_>,
    parent: &FieldPath,
    url: &StoreUrl,
    options: Option<&BTreeMap<String, String>>,
) -> StoreOptions {
    let mut checked = StoreOptions::new();
    for (name, value) in options.into_iter().flatten() {
        let path = parent.key("options").key(name.clone());
        if let Err(e) = check_option(url, name) {
            ctx.error_at_key(&path, e.to_string());
            continue;
        }
        let secret = ["secret", "token", "_key"].iter().any(|s| name.contains(s))
            && !name.ends_with("key_id");
        if secret && !ctx.subs.interpolated.contains(&path) {
            ctx.warning(
                &path,
                format!("`{name}` is a credential written inline: write it as \"${{VAR}}\""),
            );
        }
        if name == "google_skip_signature" && value.trim().eq_ignore_ascii_case("true") {
            ctx.warning(
                &path,
                "object_store skips signatures on GCS reads only: every write here still asks \
                 for a token, which without credentials comes from the metadata server (off \
                 Google Cloud: retried for minutes, then an error); give credentials, or \
                 `google_bearer_token` for a local server that checks none",
            );
        }
        checked.insert(name.clone(), value.clone());
    }
    checked
}

pub fn key_template(ctx: &mut Ctx<'_, '_>, path: &FieldPath, text: &str) -> Option<KeyTemplate> {
    if !ctx.known(path) {
        return None;
    }
    match KeyTemplate::parse(text) {
        Ok(t) => Some(t),
        Err(errors) => {
            let expected =
                "a key template such as {job}/{window_start:%Y/%m/%d}/{kind}-{batch}.{ext}";
            if ctx.subs.interpolated.contains(path) {
                ctx.refuse(path, "", expected);
            } else {
                for e in errors {
                    ctx.error(path, e.to_string());
                }
            }
            None
        }
    }
}

/// Job fields first, then the global defaults.
pub fn merge_export(job: Option<&ExportSpec>, defaults: &ExportSpec) -> ExportSpec {
    let job = job.cloned().unwrap_or_default();
    ExportSpec {
        version: job.version.or(defaults.version),
        include_truncated_messages: job
            .include_truncated_messages
            .or(defaults.include_truncated_messages),
        include_soft_deleted_channels: job
            .include_soft_deleted_channels
            .or(defaults.include_soft_deleted_channels),
        clear_deleted_message_text: job
            .clear_deleted_message_text
            .or(defaults.clear_deleted_message_text),
    }
}
