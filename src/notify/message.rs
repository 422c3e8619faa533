//! What a notification says, as chatvault's JSON body or as a Slack-compatible one.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::job::WebhookFormat;
use crate::config::model::NotifyEvent;

/// chatvault's webhook body (`format: json`). Every field but the optional ones is always
/// present; the README documents it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub event: NotifyEvent,
    pub job: String,
    pub tick: DateTime<Utc>,
    pub run_id: String,
    /// One sentence for people.
    pub summary: String,
    /// `failure`: what went wrong (free of secrets, as in the ledger).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `failure`: what to do about it, when chatvault knows (as in the ledger and `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// `recovery`: archives and bytes the recovering run stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archives: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_stored: Option<u64>,
    /// `lapse_risk`: the task, when Stream deletes its file, and whole days left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapses_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// `incomplete`: what the run's archives lack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// `incomplete`: references to files of the job's archives not captured yet, which later
    /// runs retry (one of the warnings says so too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_outstanding: Option<u64>,
    /// `missing`: the archive's key (also named by `lapse_risk`'s summary) and the channels
    /// (cids) or users Stream does not have, which its export left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_channels: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_users: Option<Vec<String>>,
    pub chatvault_version: &'static str,
}

impl Message {
    pub fn new(event: NotifyEvent, job: &str, tick: DateTime<Utc>, run_id: &str) -> Message {
        Message {
            event,
            job: job.to_owned(),
            tick,
            run_id: run_id.to_owned(),
            summary: String::new(),
            error: None,
            hint: None,
            archives: None,
            bytes_stored: None,
            task_id: None,
            lapses_at: None,
            days_left: None,
            warnings: Vec::new(),
            media_outstanding: None,
            key: None,
            missing_channels: None,
            missing_users: None,
            chatvault_version: env!("CARGO_PKG_VERSION"),
        }
    }

    pub fn body(&self, format: WebhookFormat) -> serde_json::Value {
        match format {
            WebhookFormat::Json => serde_json::to_value(self).unwrap_or_default(),
            WebhookFormat::Slack => {
                let text = match &self.hint {
                    Some(hint) => format!("chatvault: {}\nhint: {hint}", self.summary),
                    None => format!("chatvault: {}", self.summary),
                };
                serde_json::json!({ "text": text })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_body_names_the_event_in_snake_case_and_leaves_out_what_does_not_apply() {
        let tick = DateTime::parse_from_rfc3339("2026-03-01T02:00:00Z")
            .unwrap()
            .to_utc();
        let mut m = Message::new(NotifyEvent::LapseRisk, "daily", tick, "ab12");
        m.summary = "daily: export task t1 lapses in 3 day(s)".into();
        m.task_id = Some("t1".into());
        m.days_left = Some(3);
        let body = m.body(WebhookFormat::Json);
        assert_eq!(body["event"], "lapse_risk");
        assert_eq!(body["job"], "daily");
        assert_eq!(body["tick"], "2026-03-01T02:00:00Z");
        assert_eq!(body["days_left"], 3);
        assert!(body.get("error").is_none(), "{body}");
        assert_eq!(
            m.body(WebhookFormat::Slack),
            serde_json::json!({"text": "chatvault: daily: export task t1 lapses in 3 day(s)"})
        );
    }
}
