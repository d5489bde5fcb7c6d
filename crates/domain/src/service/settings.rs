//! `GET/PATCH /api/settings`.

use super::{Gatehouse, require_superuser};
use crate::access::Caller;
use crate::collection::merge_json;
use crate::error::{Error, Result};
use crate::settings::Settings;
use serde_json::Value;

const SETTINGS_KEY: &str = "settings";

impl Gatehouse {
    /// The stored settings, or the defaults.
    pub async fn settings(&self) -> Result<Settings> {
        let Some(raw) = self.store.get_setting(SETTINGS_KEY).await? else {
            return Ok(Settings::default());
        };
        // Start from the defaults so that settings saved by an older version gain new keys.
        let mut merged = serde_json::to_value(Settings::default()).map_err(Error::internal)?;
        let stored: Value = serde_json::from_str(&raw).map_err(Error::internal)?;
        merge_json(&mut merged, &stored);
        serde_json::from_value(merged).map_err(Error::internal)
    }

    pub async fn get_settings(&self, caller: Option<&Caller>) -> Result<Value> {
        require_superuser(caller)?;
        serde_json::to_value(self.settings().await?).map_err(Error::internal)
    }

    pub async fn update_settings(&self, caller: Option<&Caller>, patch: Value) -> Result<Value> {
        require_superuser(caller)?;
        if !patch.is_object() {
            return Err(Error::bad_request(
                "An error occurred while loading the submitted data.",
            ));
        }
        let mut merged = serde_json::to_value(self.settings().await?).map_err(Error::internal)?;
        merge_json(&mut merged, &patch);
        let settings: Settings = serde_json::from_value(merged).map_err(|_| {
            Error::bad_request("An error occurred while loading the submitted data.")
        })?;
        settings
            .check()
            .into_result("An error occurred while saving the new settings.")?;
        let json = serde_json::to_string(&settings).map_err(Error::internal)?;
        self.store.put_setting(SETTINGS_KEY, &json).await?;
        tracing::info!("settings updated");
        serde_json::to_value(settings).map_err(Error::internal)
    }
}
