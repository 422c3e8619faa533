//! The emulated endpoints, named as Stream names them (`EndpointName` in stream-chat-js; the same
//! names key `GET /rate_limits` and prefix error messages).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One emulated endpoint; the unit of rate limits, faults and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Endpoint {
    /// `POST /export_channels`
    ExportChannels,
    /// `GET /export_channels/{task_id}`
    GetExportChannelsStatus,
    /// `POST /export/users`
    ExportUsers,
    /// `GET /tasks/{task_id}`
    GetTask,
    /// `POST /channels` (query channels)
    QueryChannels,
    /// `GET /rate_limits`
    GetRateLimits,
    /// `GET /files/...`: the presigned export-file download (the emulator's stand-in for S3).
    DownloadExport,
    /// `GET /messages/{id}`: one message, with freshly signed media links.
    GetMessage,
    /// `GET /users?payload=…`: query users, with freshly signed avatar links.
    QueryUsers,
    /// `GET /cdn/...`: a media file behind a signed link (the emulator's stand-in for Stream's
    /// CDN).
    CdnFile,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 10] = [
        Endpoint::ExportChannels,
        Endpoint::GetExportChannelsStatus,
        Endpoint::ExportUsers,
        Endpoint::GetTask,
        Endpoint::QueryChannels,
        Endpoint::GetRateLimits,
        Endpoint::DownloadExport,
        Endpoint::GetMessage,
        Endpoint::QueryUsers,
        Endpoint::CdnFile,
    ];

    /// The name Stream uses (also the operation name in error messages).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ExportChannels => "ExportChannels",
            Endpoint::GetExportChannelsStatus => "GetExportChannelsStatus",
            Endpoint::ExportUsers => "ExportUsers",
            Endpoint::GetTask => "GetTask",
            Endpoint::QueryChannels => "QueryChannels",
            Endpoint::GetRateLimits => "GetRateLimits",
            Endpoint::DownloadExport => "DownloadExport",
            Endpoint::GetMessage => "GetMessage",
            Endpoint::QueryUsers => "QueryUsers",
            Endpoint::CdnFile => "CdnFile",
        }
    }

    /// Whether the endpoint is server-side only (user tokens are refused with 403, code 17).
    pub(crate) fn server_only(self) -> bool {
        matches!(
            self,
            Endpoint::ExportChannels
                | Endpoint::GetExportChannelsStatus
                | Endpoint::ExportUsers
                | Endpoint::GetTask
                | Endpoint::GetMessage
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown endpoint {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for endpoint in Endpoint::ALL {
            assert_eq!(endpoint.name().parse::<Endpoint>(), Ok(endpoint));
        }
        assert!("Nope".parse::<Endpoint>().is_err());
    }
}
