//! What each kind of ticket keeps in its `data` column, typed in one place: the flows build and
//! read these structs, never the JSON. A missing or malformed field reads as its default.

use gatehouse_store::TicketRow;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The `data` of a kind of ticket.
pub(super) trait TicketData: Serialize + DeserializeOwned + Default {
    fn of(row: &TicketRow) -> Self {
        serde_json::from_str(&row.data).unwrap_or_default()
    }

    fn to_data(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// An MFA session: the method of the first step (the second must differ).
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct MfaSessionData {
    pub(super) method: String,
}

impl TicketData for MfaSessionData {}

/// An email code: where it was sent (empty for a decoy), which proves that address on use.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct OtpData {
    pub(super) channel: String,
    pub(super) sent_to: String,
}

impl TicketData for OtpData {}
