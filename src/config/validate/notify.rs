//! Rules of `notify` blocks (global and per job).

use super::Ctx;
use crate::config::job::{Notify, SecretUrl, Webhook};
use crate::config::model::{NotifyEvent, NotifySpec};
use crate::diagnostics::tree::FieldPath;

const ALL_EVENTS: [NotifyEvent; 5] = [
    NotifyEvent::Failure,
    NotifyEvent::Recovery,
    NotifyEvent::LapseRisk,
    NotifyEvent::Missing,
    NotifyEvent::Incomplete,
];

/// `None` when a rule failed (reported in the sink).
pub fn notify(ctx: &mut Ctx<'_, '_>, path: &FieldPath, spec: &NotifySpec) -> Option<Notify> {
    let mut ok = true;
    let mut webhooks = Vec::new();
    for (i, hook) in spec.webhooks.iter().flatten().enumerate() {
        let at = path.key("webhooks").index(i);
        let url = secret_url(ctx, &at.key("url"), &hook.url, "");
        let mut on = hook.on.clone().unwrap_or_else(|| ALL_EVENTS.to_vec());
        on.sort();
        on.dedup();
        match url {
            Some(url) => webhooks.push(Webhook {
                url,
                format: hook.format.unwrap_or_default(),
                on,
            }),
            None => ok &= !ctx.known(&at.key("url")),
        }
    }
    let ping = match &spec.ping {
        None => None,
        Some(text) => {
            let at = path.key("ping");
            let url = secret_url(ctx, &at, text, "{job}");
            ok &= url.is_some() || !ctx.known(&at);
            url
        }
    };
    ok.then_some(Notify { webhooks, ping })
}

/// An absolute http(s) URL (with `placeholder` allowed in it), warned about when written
/// inline: whoever reads the file could post to it.
fn secret_url(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    text: &str,
    placeholder: &str,
) -> Option<SecretUrl> {
    if !ctx.known(path) {
        return None;
    }
    let probe = if placeholder.is_empty() {
        text.to_owned()
    } else {
        text.replace(placeholder, "job")
    };
    let valid = url::Url::parse(&probe)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if valid.is_none() {
        let shown = ctx.show(path, text);
        ctx.error(
            path,
            format!("{shown} is not an http(s) URL: expected e.g. https://hooks.example.com/…"),
        );
        return None;
    }
    if !ctx.subs.interpolated.contains(path) {
        ctx.warning(
            path,
            "this URL is a credential written inline (whoever has it can post to it): \
             write it as \"${VAR}\"",
        );
    }
    Some(SecretUrl::new(text.to_owned()))
}
