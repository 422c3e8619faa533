//! A batch naming a channel or user Stream does not have.
//!
//! Stream refuses a whole `ExportChannels` request when one of its channels does not exist
//! (404, code 16, "Can't find channel"), and its message may not say which. Left alone, one
//! deleted channel or one typo in a job file would block the other 24 channels of its request
//! on every run until someone edits the file. So a refused create is narrowed down to the
//! members Stream does not have, and the batch is exported without them:
//!
//! 1. members the refusal names: cids on Stream's word; user ids (which can be plain words
//!    such as `find`) each confirmed by a one-user export Stream refuses too;
//! 2. else, for channels, a read-only query-channels probe for the batch's cids: each cid it
//!    does not find is a suspect, confirmed by a one-channel export that Stream refuses too
//!    (query-channels hides soft-deleted channels, which an export may still accept, so a
//!    probe alone never drops a channel);
//! 3. else (nothing named, no users probe, a probe that failed or found every suspect
//!    exportable), bisection: halves of the batch are tried until each refused member stands
//!    alone. A half Stream accepts starts a real export task that is not used; the client's
//!    limiter paces these creates like any other, and there are at most two per member.
//!
//! The batch keeps its number and archive key; its task, its ledger record and its manifest
//! list the members actually exported and, apart, the missing ones. Only this request skips
//! them: the job's lists are not touched, and the next window asks for them again.

use super::error::RunError;
use super::windows::parse_cid;
use super::{RunError as E, Runner};
use crate::api::{ApiError, ChannelsExport, Endpoint};
use crate::config::job::{ExportKind, Job};
use crate::plan::batch::Batch;

/// A batch's export as created: its task, what it holds and what Stream does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Created {
    /// `None` when Stream has none of the batch's members: there is nothing to export.
    pub task_id: Option<String>,
    pub exported: Vec<String>,
    pub missing: Vec<String>,
}

impl Runner {
    /// Creates the batch's export task; when Stream refuses members it does not have, finds
    /// them (see the module doc) and exports the rest.
    pub(super) async fn create_export(
        &self,
        job: &Job,
        batch: &Batch,
    ) -> Result<Created, RunError> {
        let mut members = batch.members.clone();
        let mut missing: Vec<String> = Vec::new();
        // Each round drops at least one member, so this ends; the bound is a guard.
        for _ in 0..=batch.members.len() {
            if members.is_empty() {
                break;
            }
            let refusal = match self.create(job, batch, &members).await {
                Ok(task_id) => {
                    return Ok(Created {
                        task_id: Some(task_id),
                        exported: members,
                        missing,
                    });
                }
                Err(e) => match refusal(e, &members) {
                    Ok(message) => message,
                    Err(e) => return Err(e.into()),
                },
            };
            let found = self.find_missing(job, batch, &members, &refusal).await?;
            if found.is_empty() {
                // The refusal went away while looking (a channel restored meanwhile?): the
                // next round tries the same members again.
                tracing::info!(
                    "Stream refused the export, but every member alone is exportable; trying again"
                );
                continue;
            }
            members.retain(|m| !found.contains(m));
            missing.extend(found);
        }
        missing.sort();
        if !members.is_empty() {
            // The guard ran out: Stream keeps refusing a set whose members it accepts.
            return Err(E::Api(ApiError::NotFound {
                endpoint: endpoint(batch.kind),
                message: format!(
                    "Stream keeps refusing the export of {} without naming a member it lacks",
                    members.join(", ")
                ),
            }));
        }
        Ok(Created {
            task_id: None,
            exported: members,
            missing,
        })
    }

    /// The members of `members` Stream does not have, given that it just refused an export
    /// of all of them with `message`.
    async fn find_missing(
        &self,
        job: &Job,
        batch: &Batch,
        members: &[String],
        message: &str,
    ) -> Result<Vec<String>, RunError> {
        if let [only] = members {
            return Ok(vec![only.clone()]);
        }
        let named = named_in(message, members);
        let named = match batch.kind {
            // A cid (`type:id`) does not pass for a word of Stream's sentence.
            ExportKind::Channels => named,
            // A user id might (`find`, `user`): each named one is confirmed alone.
            ExportKind::Users => {
                let mut confirmed = Vec::new();
                for user in named {
                    if self
                        .refused(job, batch, std::slice::from_ref(&user))
                        .await?
                    {
                        confirmed.push(user);
                    }
                }
                confirmed
            }
        };
        if !named.is_empty() {
            return Ok(named);
        }
        if batch.kind == ExportKind::Channels {
            let mut confirmed = Vec::new();
            for suspect in self.probe(members).await {
                if self
                    .refused(job, batch, std::slice::from_ref(&suspect))
                    .await?
                {
                    confirmed.push(suspect);
                }
            }
            if !confirmed.is_empty() {
                return Ok(confirmed);
            }
        }
        self.bisect(job, batch, members).await
    }

    /// The cids query-channels does not find; none when the probe itself fails (bisection
    /// takes over then).
    async fn probe(&self, members: &[String]) -> Vec<String> {
        let cids: Vec<_> = members.iter().map(|c| parse_cid(c)).collect();
        match self.client.existing_channels(&cids).await {
            Ok(found) => {
                let found: Vec<String> = found.iter().map(ToString::to_string).collect();
                members
                    .iter()
                    .filter(|m| !found.contains(m))
                    .cloned()
                    .collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot probe the batch's channels; bisecting instead");
                Vec::new()
            }
        }
    }

    /// The members Stream refuses, by trying halves of `members` (which it refused whole).
    async fn bisect(
        &self,
        job: &Job,
        batch: &Batch,
        members: &[String],
    ) -> Result<Vec<String>, RunError> {
        let mut found = Vec::new();
        // (members, known to be refused): the whole set is; its halves are tried.
        let mut todo: Vec<(Vec<String>, bool)> = vec![(members.to_vec(), true)];
        while let Some((set, known)) = todo.pop() {
            if !known && !self.refused(job, batch, &set).await? {
                continue;
            }
            if let [only] = set.as_slice() {
                found.push(only.clone());
                continue;
            }
            let (a, b) = set.split_at(set.len() / 2);
            todo.push((b.to_vec(), false));
            todo.push((a.to_vec(), false));
        }
        Ok(found)
    }

    /// Whether Stream refuses an export of exactly `members`. One it accepts starts a task
    /// that is never polled: a trial's price, paid only by the fallbacks.
    async fn refused(
        &self,
        job: &Job,
        batch: &Batch,
        members: &[String],
    ) -> Result<bool, RunError> {
        if self.is_draining() {
            return Err(E::Interrupted);
        }
        match self.create(job, batch, members).await {
            Ok(task_id) => {
                tracing::info!(
                    %task_id,
                    members = %members.join(", "),
                    "trial export accepted; its task is not used"
                );
                Ok(false)
            }
            Err(e) => refusal(e, members).map(|_| true).map_err(E::Api),
        }
    }

    /// One create request for `members` of the batch, with the batch's window and options.
    async fn create(
        &self,
        job: &Job,
        batch: &Batch,
        members: &[String],
    ) -> Result<String, ApiError> {
        match batch.kind {
            ExportKind::Channels => {
                let cids: Vec<_> = members.iter().map(|c| parse_cid(c)).collect();
                self.client
                    .export_channels(&ChannelsExport {
                        channels: &cids,
                        since: Some(batch.window.since),
                        until: Some(batch.window.until),
                        options: job.export,
                    })
                    .await
            }
            ExportKind::Users => self.client.export_users(members).await,
        }
    }
}

fn endpoint(kind: ExportKind) -> Endpoint {
    match kind {
        ExportKind::Channels => Endpoint::ExportChannels,
        ExportKind::Users => Endpoint::ExportUsers,
    }
}

/// The refusal's message when `error` says Stream lacks a member of `members`: a not-found
/// answer (404 or code 16), or a refused request (4xx) whose message names a member (how a
/// users export may refuse an unknown id). Any other error is handed back.
fn refusal(error: ApiError, members: &[String]) -> Result<String, ApiError> {
    match error {
        ApiError::NotFound { message, .. } => Ok(message),
        ApiError::BadInput { ref message, .. } if !named_in(message, members).is_empty() => {
            Ok(message.clone())
        }
        other => Err(other),
    }
}

/// The members a message names, each as a whole word (`Can't find channel with cid
/// messaging:gone`, `user "bob" does not exist`), in the order of `members`.
fn named_in(message: &str, members: &[String]) -> Vec<String> {
    let words: Vec<&str> = message
        .split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '"' | '\'' | '`' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '\\'
                )
        })
        .map(|w| w.trim_end_matches(['.', ':']))
        .filter(|w| !w.is_empty())
        .collect();
    members
        .iter()
        .filter(|m| words.contains(&m.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn members_are_named_as_whole_words_only() {
        let channels = strings(&["messaging:gone", "messaging:general"]);
        assert_eq!(
            named_in(
                "ExportChannels failed with error: \"Can't find channel with cid messaging:gone\"",
                &channels
            ),
            strings(&["messaging:gone"])
        );
        // A user id can be a word of the sentence: why named users are confirmed alone.
        let users = strings(&["bob", "find", "bo"]);
        assert_eq!(
            named_in("user_ids: user 'bob' does not exist.", &users),
            strings(&["bob"])
        );
        assert_eq!(named_in("Can't find user", &users), strings(&["find"]));
        // `messaging:general` is not `messaging:gen`.
        assert!(named_in("Can't find channel messaging:gen", &channels).is_empty());
    }

    #[test]
    fn not_found_is_a_refusal_and_bad_input_only_when_it_names_a_member() {
        let members = strings(&["alice", "bob"]);
        let not_found = ApiError::NotFound {
            endpoint: Endpoint::ExportChannels,
            message: "Can't find channel".into(),
        };
        assert_eq!(
            refusal(not_found, &members).ok().as_deref(),
            Some("Can't find channel")
        );
        let names_bob = ApiError::BadInput {
            endpoint: Endpoint::ExportUsers,
            status: 400,
            message: "user bob does not exist".into(),
        };
        assert!(refusal(names_bob, &members).is_ok());
        let plain = ApiError::BadInput {
            endpoint: Endpoint::ExportUsers,
            status: 400,
            message: "user_ids must be non-empty strings".into(),
        };
        assert!(refusal(plain, &members).is_err());
    }
}
