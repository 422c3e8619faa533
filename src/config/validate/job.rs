//! Rules of one job file.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::TimeDelta;

use super::Ctx;
use super::settings::{Defaults, key_template, merge_export, store_options, store_url, timezone};
use crate::config::job::{
    ChannelFilter, ChannelSet, Cid, Destination, ExportOptions, Job, KeepFor, Retention,
    STREAM_RETENTION, Window,
};
use crate::config::key::KeyTemplate;
use crate::config::model::{ChannelSelector, JobFile, WindowMode, WindowSpec};
use crate::diagnostics::tree::FieldPath;
use crate::schedule::Schedule;
use crate::store::StoreOptions;
use crate::store::url::StoreUrl;

pub const DEFAULT_KEY: &str =
    "{job}/{window_start:%Y/%m/%d}/{window_start:%H%M%S}-{kind}-{batch}.{ext}";
pub const DEFAULT_DESTINATION: &str = "file://archive";
const DEFAULT_WARN_BEFORE: TimeDelta = TimeDelta::days(7);
/// Stream's limits on names (channel types, ids) and user ids.
const MAX_ID_LEN: usize = 64;
const MAX_USER_ID_LEN: usize = 255;

/// Compiles one job; `None` when any rule failed (the reasons are in the sink).
pub fn compile_job(
    spec: &JobFile,
    file: &Path,
    defaults: &Defaults,
    base_dir: &Path,
    ctx: &mut Ctx<'_, '_>,
) -> Option<Job> {
    let root = FieldPath::root();
    let name = job_name(spec, file, ctx);

    let schedule_path = root.key("schedule");
    let schedule = if ctx.known(&schedule_path) {
        Schedule::parse(&spec.schedule)
            .map_err(|e| {
                let expected = "a cron expression such as \"30 2 * * *\" or a macro such as @daily";
                ctx.refuse(&schedule_path, e, expected);
            })
            .ok()
    } else {
        None
    };
    let tz = match &spec.timezone {
        Some(text) => timezone(ctx, &root.key("timezone"), text),
        None => Some(defaults.timezone.unwrap_or(chrono_tz::UTC)),
    };
    let window = window(spec.window.as_ref(), ctx);
    let channels = channels(&spec.channels, ctx);
    let users = users(&spec.users, ctx);
    let listed = |field: &str, empty: bool| !empty || !ctx.known(&root.key(field));
    if !listed("channels", spec.channels.is_empty()) && !listed("users", spec.users.is_empty()) {
        ctx.error(&root, "nothing to export: list `channels`, `users` or both");
    }

    let export = merge_export(spec.export.as_ref(), &defaults.export);
    let destination = destination(spec, defaults, base_dir, ctx);
    let retention = retention(spec, ctx);
    let keep_for = keep_for(spec, ctx);
    let notify = match &spec.notify {
        Some(own) => super::notify::notify(ctx, &root.key("notify"), own),
        None => Some(defaults.notify.clone()),
    };
    let media = super::media::media(
        ctx,
        spec.media.as_ref(),
        &defaults.media,
        name.as_deref().unwrap_or_default(),
        destination.as_ref().map(|d| &d.key),
    );

    Some(Job {
        name: name?,
        description: spec.description.clone(),
        file: file.to_path_buf(),
        schedule: schedule?,
        timezone: tz?,
        catch_up: spec.catch_up.unwrap_or_default(),
        overlap: spec.overlap.unwrap_or_default(),
        window: window?,
        channels: channels?,
        users: users?,
        export: ExportOptions {
            version: export.version.unwrap_or_default(),
            include_truncated_messages: export.include_truncated_messages.unwrap_or(false),
            include_soft_deleted_channels: export.include_soft_deleted_channels.unwrap_or(false),
            clear_deleted_message_text: export.clear_deleted_message_text.unwrap_or(false),
        },
        destination: destination?,
        retention: retention?,
        keep_for: keep_for?,
        notify: notify?,
        media: media?,
    })
}

/// Names end up in object keys, state paths and metric labels: keep them plain.
fn job_name(spec: &JobFile, file: &Path, ctx: &mut Ctx<'_, '_>) -> Option<String> {
    let path = FieldPath::root().key("name");
    let (name, from_file) = match &spec.name {
        Some(n) => (n.clone(), false),
        None => (
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            true,
        ),
    };
    if !ctx.known(&path) {
        return Some(name);
    }
    super::plain_name(name, "job", from_file, &path, ctx)
}

fn window(spec: Option<&WindowSpec>, ctx: &mut Ctx<'_, '_>) -> Option<Window> {
    let default = WindowSpec::default();
    let spec = spec.unwrap_or(&default);
    let root = FieldPath::root().key("window");
    let mode = spec.mode.unwrap_or_default();
    let mode_name = match mode {
        WindowMode::Incremental => "incremental",
        WindowMode::Rolling => "rolling",
        WindowMode::Fixed => "fixed",
    };
    let allowed: &[&str] = match mode {
        WindowMode::Incremental => &["lag", "max", "since"],
        WindowMode::Rolling => &["last", "lag", "max"],
        WindowMode::Fixed => &["since", "until", "max"],
    };
    let present = [
        ("lag", spec.lag.is_some()),
        ("max", spec.max.is_some()),
        ("last", spec.last.is_some()),
        ("since", spec.since.is_some()),
        ("until", spec.until.is_some()),
    ];
    let mut misplaced = false;
    for (field, _) in present
        .iter()
        .filter(|(f, set)| *set && !allowed.contains(f))
    {
        misplaced = true;
        ctx.error_at_key(
            &root.key(*field),
            format!(
                "`{field}` does not apply to mode {mode_name} (it takes {})",
                allowed.join(", ")
            ),
        );
    }

    let fields =
        |field: &str, value: &Option<String>| value.clone().filter(|_| allowed.contains(&field));
    let lag = ctx.duration(&root.key("lag"), fields("lag", &spec.lag).as_deref());
    let max = ctx.duration(&root.key("max"), fields("max", &spec.max).as_deref());
    let last = ctx.duration(&root.key("last"), fields("last", &spec.last).as_deref());
    let since = ctx.time(&root.key("since"), fields("since", &spec.since).as_deref());
    let until = ctx.time(&root.key("until"), fields("until", &spec.until).as_deref());
    for (field, value) in [("max", max), ("last", last)] {
        if value.is_some_and(|d| d <= TimeDelta::zero()) {
            ctx.error(
                &root.key(field),
                format!("`{field}` must be longer than zero"),
            );
        }
    }
    let failed = |text: &Option<String>, parsed: bool| text.is_some() && !parsed;
    let parse_failed = failed(&spec.lag, lag.is_some())
        || failed(&spec.max, max.is_some())
        || failed(&spec.last, last.is_some())
        || failed(&spec.since, since.is_some())
        || failed(&spec.until, until.is_some());
    if misplaced || parse_failed || max.is_some_and(|d| d <= TimeDelta::zero()) {
        return None;
    }

    let lag = lag.unwrap_or_default();
    match mode {
        WindowMode::Incremental => Some(Window::Incremental {
            lag,
            max,
            start: since,
        }),
        WindowMode::Rolling => match last {
            Some(last) if last > TimeDelta::zero() => Some(Window::Rolling { last, lag, max }),
            Some(_) => None,
            None => {
                ctx.error(
                    &root,
                    "mode rolling needs `last`, the window's length, e.g. last: 24h",
                );
                None
            }
        },
        WindowMode::Fixed => match (since, until) {
            (Some(since), Some(until)) if since < until => {
                Some(Window::Fixed { since, until, max })
            }
            (Some(_), Some(_)) => {
                ctx.error(&root.key("until"), "`until` must be after `since`");
                None
            }
            _ => {
                if ctx.known(&root.key("since")) && ctx.known(&root.key("until")) {
                    ctx.error(&root, "mode fixed needs both `since` and `until`");
                }
                None
            }
        },
    }
}

/// Stream's rules: types take letters, digits, `-` and `_`; ids also `!`.
fn valid_name(text: &str, extra: &[char]) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(&c))
}

const TYPE_RULE: &str = "letters, digits, `-` and `_`, at most 64 characters";
const ID_RULE: &str = "letters, digits, `-`, `_` and `!`, at most 64 characters";

fn channels(selectors: &[ChannelSelector], ctx: &mut Ctx<'_, '_>) -> Option<ChannelSet> {
    let mut ok = true;
    let mut cids = BTreeSet::new();
    let mut filters = Vec::new();
    for (i, sel) in selectors.iter().enumerate() {
        let path = FieldPath::root().key("channels").index(i);
        let check_type = |ctx: &mut Ctx<'_, '_>, t: &str| {
            let p = path.key("type");
            let good = !ctx.known(&p) || valid_name(t, &[]);
            if !good {
                let shown = ctx.show(&p, t);
                ctx.error(
                    &p,
                    format!("{shown} is not a channel type: use {TYPE_RULE}"),
                );
            }
            good
        };
        match (sel.cid.as_deref(), sel.channel_type.as_deref()) {
            (Some(cid), _) => {
                for other in ["type", "ids", "filter"] {
                    let set = match other {
                        "type" => sel.channel_type.is_some(),
                        "ids" => sel.ids.is_some(),
                        _ => sel.filter.is_some(),
                    };
                    if set {
                        ok = false;
                        ctx.error_at_key(
                            &path.key(other),
                            format!("`cid` stands alone: drop `{other}`, or replace `cid` with `type` and `ids`"),
                        );
                    }
                }
                let p = path.key("cid");
                if !ctx.known(&p) {
                    continue;
                }
                match cid.split_once(':') {
                    Some((t, id)) if valid_name(t, &[]) && valid_name(id, &['!']) => {
                        cids.insert(Cid {
                            channel_type: t.to_owned(),
                            id: id.to_owned(),
                        });
                    }
                    _ => {
                        ok = false;
                        let shown = ctx.show(&p, cid);
                        ctx.error(
                            &p,
                            format!("{shown} is not a channel cid: expected `type:id`, e.g. messaging:general ({TYPE_RULE} before the colon; {ID_RULE} after)"),
                        );
                    }
                }
            }
            (None, None) => {
                ok = false;
                ctx.error(
                    &path,
                    "a channel selector needs `type` with `ids` or `filter`, or a `cid`",
                );
            }
            (None, Some(t)) => {
                ok &= check_type(ctx, t);
                match (&sel.ids, &sel.filter) {
                    (Some(_), Some(_)) => {
                        ok = false;
                        ctx.error_at_key(
                            &path.key("filter"),
                            "use either `ids` or `filter` in one selector; add a second selector for the other",
                        );
                    }
                    (None, None) if ctx.known(&path.key("ids")) => {
                        ok = false;
                        ctx.error(
                            &path,
                            format!("channel type `{t}` needs `ids` (a list of channel ids) or `filter` (a query-channels filter)"),
                        );
                    }
                    (None, None) => ok = false,
                    (Some(ids), None) => {
                        for (j, id) in ids.iter().enumerate() {
                            let p = path.key("ids").index(j);
                            if !ctx.known(&p) {
                                continue;
                            }
                            if !valid_name(id, &['!']) {
                                ok = false;
                                let shown = ctx.show(&p, id);
                                ctx.error(
                                    &p,
                                    format!("{shown} is not a channel id: use {ID_RULE}"),
                                );
                                continue;
                            }
                            let cid = Cid {
                                channel_type: t.to_owned(),
                                id: id.clone(),
                            };
                            if !cids.insert(cid.clone()) {
                                ctx.warning(
                                    &p,
                                    format!("channel {cid} is listed twice; it is exported once"),
                                );
                            }
                        }
                    }
                    (None, Some(filter)) => {
                        if filter.is_empty() {
                            ok = false;
                            ctx.error(
                                &path.key("filter"),
                                "an empty filter would match every channel of the type: name the fields to match, e.g. { team: support }",
                            );
                        } else {
                            filters.push(ChannelFilter {
                                channel_type: t.to_owned(),
                                filter: filter.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    ok.then(|| ChannelSet {
        cids: cids.into_iter().collect(),
        filters,
    })
}

fn users(list: &[String], ctx: &mut Ctx<'_, '_>) -> Option<Vec<String>> {
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for (i, user) in list.iter().enumerate() {
        let path = FieldPath::root().key("users").index(i);
        if !ctx.known(&path) {
            continue;
        }
        let valid = !user.is_empty()
            && user.len() <= MAX_USER_ID_LEN
            && user.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '-' | '.' | '!' | '=')
            });
        if !valid {
            ok = false;
            let shown = ctx.show(&path, user);
            ctx.error(
                &path,
                format!("{shown} is not a user id: use letters, digits and `@ _ - . ! =`, at most 255 characters"),
            );
        } else if !seen.insert(user.clone()) {
            ctx.warning(
                &path,
                format!("user `{user}` is listed twice; it is exported once"),
            );
        }
    }
    ok.then(|| seen.into_iter().collect())
}

fn destination(
    spec: &JobFile,
    defaults: &Defaults,
    base_dir: &Path,
    ctx: &mut Ctx<'_, '_>,
) -> Option<Destination> {
    let dest = spec.destination.clone().unwrap_or_default();
    let root = FieldPath::root().key("destination");
    // Options belong to the URL they were written with: a job that names its own URL takes
    // only its own options; one that inherits the default URL inherits its options too.
    let (url, mut options) = match dest.url.as_deref() {
        Some(text) => (
            store_url(ctx, &root.key("url"), text, base_dir),
            StoreOptions::new(),
        ),
        None => match &defaults.url {
            Some(url) => (Some(url.clone()), defaults.options.clone()),
            None => (
                StoreUrl::parse(DEFAULT_DESTINATION, base_dir).ok(),
                StoreOptions::new(),
            ),
        },
    };
    if let Some(url) = &url {
        let own = store_options(ctx, &root, url, dest.options.as_ref());
        options.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let key = match dest.key.as_deref() {
        Some(text) => key_template(ctx, &root.key("key"), text),
        None => match &defaults.key {
            Some(key) => Some(key.clone()),
            None => KeyTemplate::parse(DEFAULT_KEY).ok(),
        },
    };
    Some(Destination {
        url: url?,
        options,
        key: key?,
        compression: dest
            .compression
            .or(defaults.compression)
            .unwrap_or_default(),
        immutable: dest.immutable.or(defaults.immutable).unwrap_or(false),
    })
}

fn retention(spec: &JobFile, ctx: &mut Ctx<'_, '_>) -> Option<Retention> {
    let path = FieldPath::root().key("retention").key("warn_before");
    let text = spec
        .retention
        .as_ref()
        .and_then(|r| r.warn_before.as_deref());
    let warn_before = match text {
        None => DEFAULT_WARN_BEFORE,
        Some(_) if !ctx.known(&path) => DEFAULT_WARN_BEFORE,
        Some(t) => ctx.duration(&path, Some(t))?,
    };
    if warn_before <= TimeDelta::zero() || warn_before >= STREAM_RETENTION {
        ctx.error(
            &path,
            "must be longer than zero and shorter than Stream's 60-day retention, e.g. 7d",
        );
        return None;
    }
    Some(Retention { warn_before })
}

/// `Some(None)` when unset (kept forever); `None` when refused.
fn keep_for(spec: &JobFile, ctx: &mut Ctx<'_, '_>) -> Option<Option<KeepFor>> {
    let path = FieldPath::root().key("keep_for");
    let Some(text) = spec.keep_for.as_deref().filter(|_| ctx.known(&path)) else {
        return Some(None);
    };
    match KeepFor::parse(text) {
        Ok(keep) => Some(Some(keep)),
        Err(e) => {
            ctx.refuse(&path, e, "years and/or days, e.g. 7y, 30d or 1y30d");
            None
        }
    }
}
