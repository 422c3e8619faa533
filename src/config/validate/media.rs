//! Rules of `media` blocks (in `defaults` and per job): host patterns, the size limit, the
//! prefix. A job's own fields win over `defaults.media`, which wins over the built-in defaults.

use chrono::DateTime;

use super::Ctx;
use crate::config::hosts::HostPattern;
use crate::config::job::MediaSettings;
use crate::config::key::{KeyContext, KeyTemplate};
use crate::config::model::{MediaSpec, Size};
use crate::config::size::parse_size;
use crate::diagnostics::tree::FieldPath;

/// A `media` block's fields that passed their rules; a field that failed (reported) or was
/// not set is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaFields {
    pub capture: Option<bool>,
    pub hosts: Option<Vec<String>>,
    pub allow_http: Option<bool>,
    pub allow_private_addresses: Option<bool>,
    pub max_file_size: Option<u64>,
    pub concurrency: Option<usize>,
    pub prefix: Option<String>,
}

impl MediaFields {
    /// These fields over `under`'s.
    fn over(self, under: &MediaFields) -> MediaFields {
        MediaFields {
            capture: self.capture.or(under.capture),
            hosts: self.hosts.or_else(|| under.hosts.clone()),
            allow_http: self.allow_http.or(under.allow_http),
            allow_private_addresses: self
                .allow_private_addresses
                .or(under.allow_private_addresses),
            max_file_size: self.max_file_size.or(under.max_file_size),
            concurrency: self.concurrency.or(under.concurrency),
            prefix: self.prefix.or_else(|| under.prefix.clone()),
        }
    }

    fn settle(self) -> MediaSettings {
        let builtin = MediaSettings::default();
        MediaSettings {
            capture: self.capture.unwrap_or(builtin.capture),
            hosts: self.hosts.unwrap_or(builtin.hosts),
            allow_http: self.allow_http.unwrap_or(builtin.allow_http),
            allow_private_addresses: self
                .allow_private_addresses
                .unwrap_or(builtin.allow_private_addresses),
            max_file_size: self.max_file_size.unwrap_or(builtin.max_file_size),
            concurrency: self.concurrency.unwrap_or(builtin.concurrency),
            prefix: self.prefix.unwrap_or(builtin.prefix),
        }
    }
}

/// Checks a `media` block at `path`; the second value is false when a rule failed.
pub fn fields(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    spec: Option<&MediaSpec>,
) -> (MediaFields, bool) {
    let Some(spec) = spec else {
        return (MediaFields::default(), true);
    };
    let mut ok = true;
    let hosts = spec.hosts.as_ref().and_then(|list| {
        let (hosts, good) = host_list(ctx, &path.key("hosts"), list);
        ok &= good;
        hosts
    });
    let max_file_size = spec.max_file_size.as_ref().and_then(|size| {
        let at = path.key("max_file_size");
        let bytes = max_file_size(ctx, &at, size);
        ok &= bytes.is_some() || !ctx.known(&at);
        bytes
    });
    let prefix = spec.prefix.as_deref().and_then(|text| {
        let at = path.key("prefix");
        let prefix = prefix(ctx, &at, text);
        ok &= prefix.is_some() || !ctx.known(&at);
        prefix
    });
    let fields = MediaFields {
        capture: spec.capture,
        hosts,
        allow_http: spec.allow_http,
        allow_private_addresses: spec.allow_private_addresses,
        max_file_size,
        concurrency: spec.concurrency.map(|n| n as usize),
        prefix,
    };
    (fields, ok)
}

/// A job's media settings: its own block over the checked `defaults.media`. `None` when a
/// rule failed (reported). `key` is the job's archive key template, when it has a valid one.
pub fn media(
    ctx: &mut Ctx<'_, '_>,
    spec: Option<&MediaSpec>,
    defaults: &MediaFields,
    job: &str,
    key: Option<&KeyTemplate>,
) -> Option<MediaSettings> {
    let root = FieldPath::root().key("media");
    let (own, ok) = fields(ctx, &root, spec);
    if !ok {
        return None;
    }
    let settings = own.over(defaults).settle();
    let apart = key.is_none_or(|key| {
        prefix_apart_from_keys(ctx, &root.key("prefix"), &settings.prefix, job, key)
    });
    apart.then_some(settings)
}

fn host_list(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    list: &[String],
) -> (Option<Vec<String>>, bool) {
    let mut ok = true;
    let mut hosts: Vec<String> = Vec::new();
    for (i, text) in list.iter().enumerate() {
        let at = path.index(i);
        if !ctx.known(&at) {
            continue;
        }
        match HostPattern::parse(text) {
            Ok(pattern) => {
                let normal = pattern.to_string();
                if hosts.contains(&normal) {
                    ctx.warning(&at, format!("host `{normal}` is listed twice"));
                } else {
                    hosts.push(normal);
                }
            }
            Err(e) => {
                ok = false;
                let shown = ctx.show(&at, text);
                ctx.error(&at, format!("{shown} is not a host pattern: {e}"));
            }
        }
    }
    (ok.then_some(hosts), ok)
}

fn max_file_size(ctx: &mut Ctx<'_, '_>, path: &FieldPath, size: &Size) -> Option<u64> {
    if !ctx.known(path) {
        return None;
    }
    let bytes = match size {
        Size::Bytes(n) => u64::try_from(*n).ok(),
        Size::Text(text) => match parse_size(text) {
            Ok(n) => Some(n),
            Err(e) => {
                let shown = ctx.show(path, text);
                ctx.error(path, format!("{shown} is not a size: {e}"));
                return None;
            }
        },
    };
    match bytes {
        Some(n) if n > 0 => Some(n),
        _ => {
            ctx.error(
                path,
                "must be greater than zero, e.g. 100MiB (a file larger than it is not stored)",
            );
            None
        }
    }
}

/// What a prefix may hold: the characters keys may hold, in plain relative segments.
fn prefix(ctx: &mut Ctx<'_, '_>, path: &FieldPath, text: &str) -> Option<String> {
    if !ctx.known(path) {
        return None;
    }
    let bad_char = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '=')));
    let problem = if text.is_empty() {
        Some("must not be empty".to_owned())
    } else if let Some(c) = bad_char {
        Some(format!(
            "`{c}` may not appear in a key prefix: use A-Z a-z 0-9 / . _ - ="
        ))
    } else if text.starts_with('/') || text.ends_with('/') {
        Some("a key prefix neither starts nor ends with `/`".to_owned())
    } else if text
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        Some("a key prefix has no empty, `.` or `..` segment".to_owned())
    } else {
        None
    };
    match problem {
        None => Some(text.to_owned()),
        Some(problem) => {
            let shown = ctx.show(path, text);
            ctx.error(path, format!("{shown} is not a key prefix: {problem}"));
            None
        }
    }
}

/// Archives and media share the destination: an archive key under the media prefix would be
/// taken for a media object, and listings of archives that walk into the prefix pass every
/// stored file. Keys are rendered for a sample window of each kind. False when they collide
/// (reported).
fn prefix_apart_from_keys(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    prefix: &str,
    job: &str,
    key: &KeyTemplate,
) -> bool {
    let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let rendered: Vec<String> = ["channels", "users"]
        .iter()
        .filter_map(|kind| {
            key.render(&KeyContext {
                job,
                window_start: at,
                window_end: at,
                batch: 1,
                kind,
                task_id: None,
                ext: "jsonl.gz",
            })
            .ok()
        })
        .collect();
    let under = format!("{prefix}/");
    let first = |k: &str| k.split('/').next().unwrap_or(k).to_owned();
    if let Some(k) = rendered.iter().find(|k| k.starts_with(&under)) {
        ctx.error(
            path,
            format!(
                "archive keys would fall under the media prefix `{prefix}` (e.g. {k}): \
                 choose another prefix or key"
            ),
        );
        return false;
    }
    if let Some(k) = rendered.iter().find(|k| first(k) == first(prefix)) {
        ctx.warning(
            path,
            format!(
                "archive keys share the folder `{}` with the media prefix `{prefix}` (e.g. {k}): \
                 listing the archives walks past every stored file; keep media in a folder of \
                 its own such as `_media`",
                first(prefix)
            ),
        );
    }
    true
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::validate::Substitutions;
    use crate::diagnostics::FileSink;

    const KEY: &str = "{job}/{window_start:%Y/%m/%d}/{kind}-{batch}.{ext}";

    fn compile(
        spec: Option<&MediaSpec>,
        defaults: &MediaFields,
        key: &str,
    ) -> (Option<MediaSettings>, Vec<String>) {
        let mut sink = FileSink::new(Path::new("job.yaml"), None);
        let subs = Substitutions::default();
        let mut ctx = Ctx {
            sink: &mut sink,
            subs: &subs,
        };
        let key = KeyTemplate::parse(key).expect("a key template");
        let got = media(&mut ctx, spec, defaults, "nightly", Some(&key));
        let messages = sink.diagnostics.iter().map(|d| d.message.clone()).collect();
        (got, messages)
    }

    fn checked_defaults(spec: &MediaSpec) -> MediaFields {
        let mut sink = FileSink::new(Path::new("chatvault.yaml"), None);
        let subs = Substitutions::default();
        let mut ctx = Ctx {
            sink: &mut sink,
            subs: &subs,
        };
        fields(
            &mut ctx,
            &FieldPath::root().key("defaults").key("media"),
            Some(spec),
        )
        .0
    }

    #[test]
    fn without_any_media_block_the_built_in_defaults_apply() {
        let (got, messages) = compile(None, &MediaFields::default(), KEY);
        assert_eq!(got, Some(MediaSettings::default()));
        assert!(messages.is_empty(), "{messages:?}");
    }

    #[test]
    fn job_fields_win_over_defaults_which_win_over_the_built_in_ones() {
        let defaults = checked_defaults(&MediaSpec {
            hosts: Some(vec!["CDN.Example.com.".into()]),
            max_file_size: Some(Size::Text("5MB".into())),
            concurrency: Some(2),
            prefix: Some("_files".into()),
            ..MediaSpec::default()
        });
        let own = MediaSpec {
            capture: Some(false),
            hosts: Some(vec!["*.stream-io-cdn.com".into()]),
            max_file_size: Some(Size::Bytes(1024)),
            ..MediaSpec::default()
        };
        let (got, messages) = compile(Some(&own), &defaults, KEY);
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(
            got,
            Some(MediaSettings {
                capture: false,
                hosts: vec!["*.stream-io-cdn.com".into()],
                allow_http: false,
                allow_private_addresses: false,
                max_file_size: 1024,
                concurrency: 2,
                prefix: "_files".into(),
            })
        );
        let (got, _) = compile(None, &defaults, KEY);
        let got = got.expect("valid");
        assert_eq!(got.hosts, ["cdn.example.com"]);
        assert_eq!(got.max_file_size, 5_000_000);
    }

    #[test]
    fn a_bad_default_is_dropped_so_jobs_fall_back_to_the_built_in_value() {
        let defaults = checked_defaults(&MediaSpec {
            max_file_size: Some(Size::Text("lots".into())),
            prefix: Some("../up".into()),
            ..MediaSpec::default()
        });
        assert_eq!(defaults, MediaFields::default());
    }

    #[test]
    fn a_prefix_in_the_archives_folder_is_a_warning_and_under_the_keys_an_error() {
        let shared = MediaSpec {
            prefix: Some("nightly/media".into()),
            ..MediaSpec::default()
        };
        let (got, messages) = compile(Some(&shared), &MediaFields::default(), KEY);
        assert!(got.is_some());
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("share the folder `nightly`"),
            "{messages:?}"
        );

        let under = MediaSpec {
            prefix: Some("nightly".into()),
            ..MediaSpec::default()
        };
        let (got, messages) = compile(Some(&under), &MediaFields::default(), KEY);
        assert_eq!(got, None);
        assert!(messages[0].contains("would fall under"), "{messages:?}");

        let (got, messages) = compile(
            None,
            &MediaFields::default(),
            "_media/{job}/{kind}-{batch}-{window_start}.{ext}",
        );
        assert_eq!(got, None);
        assert!(messages[0].contains("would fall under"), "{messages:?}");
    }

    #[test]
    fn prefixes_are_plain_relative_key_folders() {
        for bad in [
            "", "/media", "media/", "a//b", "./media", "a/../b", "me dia", "média",
        ] {
            let spec = MediaSpec {
                prefix: Some(bad.into()),
                ..MediaSpec::default()
            };
            let (got, messages) = compile(Some(&spec), &MediaFields::default(), KEY);
            assert_eq!(got, None, "{bad:?}");
            assert!(
                messages[0].contains("not a key prefix"),
                "{bad:?}: {messages:?}"
            );
        }
        let spec = MediaSpec {
            prefix: Some("archive-media/v=1".into()),
            ..MediaSpec::default()
        };
        assert!(
            compile(Some(&spec), &MediaFields::default(), KEY)
                .0
                .is_some()
        );
    }
}
