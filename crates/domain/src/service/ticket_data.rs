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

/// A code: where it was sent (empty for a decoy), which proves that address on use; an SMS
/// login code also names the MFA session it was sent for, the only one it may complete.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct OtpData {
    pub(super) channel: String,
    pub(super) sent_to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(super) mfa_id: String,
}

impl TicketData for OtpData {}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(data: &str) -> TicketRow {
        TicketRow {
            id: "t".to_owned(),
            kind: "otp".to_owned(),
            collection_id: String::new(),
            record_id: String::new(),
            secret_hash: String::new(),
            data: data.to_owned(),
            created_ms: 0,
            expires_ms: 0,
            failures: 0,
        }
    }

    #[test]
    fn data_round_trips_in_the_stored_shape() {
        let otp = OtpData {
            channel: "email".to_owned(),
            sent_to: "ann@example.com".to_owned(),
            mfa_id: String::new(),
        };
        assert_eq!(
            otp.to_data(),
            r#"{"channel":"email","sentTo":"ann@example.com"}"#
        );
        let sms = OtpData {
            channel: "sms".to_owned(),
            sent_to: "+14155552671".to_owned(),
            mfa_id: "m0000000000001a".to_owned(),
        };
        assert_eq!(
            sms.to_data(),
            r#"{"channel":"sms","sentTo":"+14155552671","mfaId":"m0000000000001a"}"#
        );
        assert_eq!(OtpData::of(&row(&sms.to_data())).mfa_id, "m0000000000001a");
        assert_eq!(OtpData::of(&row(&otp.to_data())).sent_to, "ann@example.com");
        let session = MfaSessionData::of(&row(r#"{"method":"password"}"#));
        assert_eq!(session.method, "password");
    }

    #[test]
    fn missing_or_malformed_data_reads_as_empty() {
        assert_eq!(OtpData::of(&row("not json")).sent_to, "");
        assert_eq!(MfaSessionData::of(&row("{}")).method, "");
        assert_eq!(MfaSessionData::of(&row(r#"{"method":7}"#)).method, "");
    }
}
