//! One archive's manifest, and verifying it on request: re-reading a large archive costs
//! time and egress, so it never happens on page load.

use chrono_tz::Tz;
use maud::{Markup, html};

use super::{UserText, bytes, channel_href, head, search_href, timestamp};
use crate::archive::reading::Listed;
use crate::archive::verify::SealStatus;
use crate::signing::Check;
use crate::ui::calendar::day_of;
use crate::ui::held::HeldBy;
use crate::ui::pages::jobs::covers;

/// What verifying found: `Ok` when size and SHA-256 match the manifest.
pub type Verified = Result<(), String>;

/// What the manifest's signature says, against the viewer's keys, and where it stands in its
/// job's chain of seals.
pub struct Standing {
    pub signature: Check,
    pub seal: SealStatus,
    /// Whether the job's seals are signed: the deployment signs what it writes.
    pub chain_signed: bool,
}

pub fn page(
    archived: &Listed,
    standing: &Standing,
    held: &HeldBy<'_>,
    verified: Option<&Verified>,
    zone: Tz,
) -> Markup {
    let m = &archived.manifest;
    html! {
        h1 { "Archive " (UserText(&m.key)) }
        @if !archived.present {
            p.problem.lost {
                "Manifest without archive: the store had no object at this key when it was "
                "listed. What this page says comes from the manifest alone."
            }
        }
        dl.facts {
            dt { "Job" } dd { (m.job) }
            dt { "Kind" } dd { (m.kind) ", batch " (m.batch) ", export " (m.export_version) }
            dt { "Covers" } dd { (covers(m, zone)) }
            dt { "Tick" } dd { (timestamp(Some(m.tick), zone)) }
            dt { "Exported" }
            dd { (timestamp(m.exported_at, zone)) " (task " code { (m.task_id) } ")" }
            dt { "Archived" }
            dd { (timestamp(Some(m.archived_at), zone)) " by chatvault " (m.chatvault_version) }
            dt { "Size" }
            dd {
                (bytes(m.bytes_stored)) " stored (" (m.content_encoding) "), "
                (bytes(m.bytes_source)) " exported"
            }
            dt { "SHA-256" } dd { code.hash { (m.sha256) } }
            dt { "Signature" } (signature(standing))
            dt { "Seal" } (seal(&standing.seal))
            @if !held.holds.is_empty() { dt { "Legal holds" } (holds(held)) }
            @if !m.missing.is_empty() {
                dt { "Not at Stream" } dd { (UserText(&m.missing.join(", "))) }
            }
            @if m.kind == "users" {
                dt { "Users" } dd { (UserText(&m.users.join(", "))) }
            }
        }
        form.verify method="post" action="/archive/verify" {
            input type="hidden" name="job" value=(m.job);
            input type="hidden" name="key" value=(m.key);
            button #verify type="submit" { "Verify: read it again and check its SHA-256" }
        }
        @if let Some(result) = verified {
            @match result {
                Ok(()) => p #verify-result .ok data-ok="true" role="status" {
                    "Verified: " (bytes(m.bytes_stored))
                    " read, size and SHA-256 match the manifest."
                },
                Err(problem) => p #verify-result .bad data-ok="false" role="status" {
                    "Does not verify: " (problem)
                },
            }
        }
        @match &m.contents {
            None => p {
                "This archive's manifest has no counts (an older format); "
                code { "chatvault index" } " counts it."
            },
            Some(contents) => {
                @if !contents.channels.is_empty() {
                    table.channels {
                        caption { "Channels in the archive" }
                        (head(&["Channel", "Messages", "First", "Last"]))
                        tbody {
                            @for (cid, c) in &contents.channels {
                                tr {
                                    @let day = c.first_message_at.map(|t| day_of(zone, t));
                                    td { a href=(channel_href(cid, day, None)) { (UserText(cid)) } }
                                    td.num { (c.messages) }
                                    td { (timestamp(c.first_message_at, zone)) }
                                    td { (timestamp(c.last_message_at, zone)) }
                                }
                            }
                        }
                    }
                }
                @if !contents.users.is_empty() && m.counts_everyone() {
                    table.users {
                        caption { "Users the archive names" }
                        (head(&["User", "Messages", "Reactions", "Memberships", "Mentions", "Read state", "Record"]))
                        tbody {
                            @for (user, c) in &contents.users {
                                tr {
                                    td { a href=(search_href(&format!("from:{user}"))) { (UserText(user)) } }
                                    @for n in [c.messages, c.reactions, c.memberships, c.mentions, c.reads, c.records] {
                                        td.num { (n) }
                                    }
                                }
                            }
                        }
                    }
                } @else if !contents.users.is_empty() {
                    table.users {
                        caption { "Messages by user" }
                        (head(&["User", "Messages"]))
                        tbody {
                            @for (user, c) in &contents.users {
                                tr {
                                    td { a href=(search_href(&format!("from:{user}"))) { (UserText(user)) } }
                                    td.num { (c.messages) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The holds keeping the archive: nothing expires or erases it while one is in force.
fn holds(held: &HeldBy<'_>) -> Markup {
    html! {
        dd #holds data-certain=(held.certain) {
            @if held.certain {
                "held: " (held.holds.len()) " legal hold(s) keep it; it is never expired nor erased"
            } @else {
                "may be held: its manifest does not count everyone it names, so the holds "
                "on users below count it as held (" code { "chatvault holds" } " reads it to "
                "decide); it is never expired nor erased while they are in force"
            }
            ul {
                @for hold in &held.holds {
                    li data-hold=(hold.name) {
                        strong { (hold.name) } ": " (UserText(&hold.reason))
                        " (set by " (UserText(&hold.set_by)) " on " (hold.set_at.format("%Y-%m-%d"))
                        "; " code { (UserText(&hold.file.display().to_string())) } ")"
                    }
                }
            }
        }
    }
}

fn signature(standing: &Standing) -> Markup {
    match &standing.signature {
        Check::Valid { key_id } => html! {
            dd #signature .ok data-status="valid" { "signed by key " code { (key_id) } ", valid" }
        },
        Check::Invalid { key_id } => html! {
            dd #signature .bad data-status="invalid" {
                "signed by key " code { (key_id) } ", invalid: the manifest changed after it was "
                "signed, or another key signed it under that key's id"
            }
        },
        Check::UnknownKey { key_id } => html! {
            dd #signature .bad data-status="unknown-key" {
                "signed by key " code { (key_id) } ", an unknown key: none of the viewer's "
                "public keys (signing.public_key_files)"
            }
        },
        Check::Unsigned if planted(standing) => html! {
            dd #signature .bad data-status="unsigned" {
                "unsigned: not written by this deployment's key, which signs this job's seals "
                "(planted?); " code { "chatvault verify" } " says more"
            }
        },
        Check::Unsigned => html! {
            dd #signature data-status="unsigned" {
                "unsigned: written before signing was configured"
            }
        },
        Check::Malformed { reason } => html! {
            dd #signature .bad data-status="malformed" { "cannot be checked: " (reason) }
        },
    }
}

/// Whether an unsigned manifest cannot be the job's own: the job signs (its seals are
/// signed), and no seal named it when it was there (a job's first seal names everything
/// written before signing began, and a signed seal names nothing unsigned after that), nor is
/// it waiting for a seal after unsigned ones.
fn planted(standing: &Standing) -> bool {
    standing.chain_signed
        && !matches!(
            standing.seal,
            SealStatus::Sealed { .. } | SealStatus::Awaiting | SealStatus::NotSealed
        )
}

fn seal(status: &SealStatus) -> Markup {
    match status {
        SealStatus::Sealed { sequence } => html! {
            dd #seal .ok data-status="sealed" { "sealed by seal " (sequence) }
        },
        SealStatus::Changed { sequence } => html! {
            dd #seal .bad data-status="changed" {
                "changed since seal " (sequence) " sealed it"
            }
        },
        SealStatus::Awaiting => html! {
            dd #seal data-status="awaiting" {
                "awaiting seal: written after the job's newest seal; the next run seals it"
            }
        },
        SealStatus::NotSealed => html! {
            dd #seal data-status="not-sealed" {
                "not sealed: the job has no seal yet (written before sealing began)"
            }
        },
        SealStatus::SignedUnsealed => html! {
            dd #seal .bad data-status="signed-unsealed" {
                "signed, but the job has no seal: its seals were removed, or its first signed "
                "run has not sealed yet"
            }
        },
        SealStatus::Planted => html! {
            dd #seal .bad data-status="planted" {
                "not sealed and not signed by a known key, though the job's seals are signed: "
                "planted after the fact?"
            }
        },
        SealStatus::Unnamed { newest } => html! {
            dd #seal .bad data-status="unnamed" {
                "no seal names it, though it was written before seal " (newest)
            }
        },
        SealStatus::Unreadable { reason } => html! {
            dd #seal .bad data-status="unreadable" { "the seals cannot be read: " (reason) }
        },
    }
}
