//! The endpoints chatvault calls, each with its own rate limit at Stream.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    ExportChannels,
    GetExportChannelsStatus,
    ExportUsers,
    GetTask,
    QueryChannels,
    /// A message with freshly signed file links, for the media capture.
    GetMessage,
    /// Users with freshly signed images, for the media capture.
    QueryUsers,
}

impl Endpoint {
    pub const ALL: [Endpoint; 7] = [
        Endpoint::ExportChannels,
        Endpoint::GetExportChannelsStatus,
        Endpoint::ExportUsers,
        Endpoint::GetTask,
        Endpoint::QueryChannels,
        Endpoint::GetMessage,
        Endpoint::QueryUsers,
    ];

    /// Stream's name for the endpoint (as in its rate-limit docs and `/rate_limits`).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ExportChannels => "ExportChannels",
            Endpoint::GetExportChannelsStatus => "GetExportChannelsStatus",
            Endpoint::ExportUsers => "ExportUsers",
            Endpoint::GetTask => "GetTask",
            Endpoint::QueryChannels => "QueryChannels",
            Endpoint::GetMessage => "GetMessage",
            Endpoint::QueryUsers => "QueryUsers",
        }
    }

    /// Requests per minute assumed until Stream's `X-RateLimit-Limit` says otherwise. The
    /// export limits are documented (60/min); the others are not, so be modest.
    pub fn default_limit(self) -> u32 {
        match self {
            Endpoint::ExportChannels | Endpoint::ExportUsers => 60,
            Endpoint::GetExportChannelsStatus
            | Endpoint::GetTask
            | Endpoint::QueryChannels
            | Endpoint::GetMessage
            | Endpoint::QueryUsers => 300,
        }
    }

    /// Whether a repeat could start a second export (see `StreamClient::send`).
    pub fn creates(self) -> bool {
        matches!(self, Endpoint::ExportChannels | Endpoint::ExportUsers)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
