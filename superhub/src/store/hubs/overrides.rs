//! Direct writes of a hub's listing state and moderation flag, outside the ordered write path:
//! tests arrange `listed` and hidden hubs with them until the probe scheduler (§4) and the admin
//! API (§8) own these columns.

use super::HubState;
use crate::store::{Store, StoreError};

impl Store {
    /// Sets hub `id` to `state` (`listed` also sets `first_listed_at` once) and takes it off the
    /// probe queue. Test hook: the probe scheduler makes these transitions in production.
    ///
    /// # Errors
    /// [`StoreError`].
    #[doc(hidden)]
    pub async fn set_hub_state(
        &self,
        id: &str,
        state: HubState,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let first_listed = (state == HubState::Listed).then_some(now_ms);
        sqlx::query(
            "update hubs set state = $2, first_listed_at = coalesce(first_listed_at, $3), \
             next_probe_at = null, updated_at = $4 where id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(first_listed)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Hides hub `id` since `hidden_at` (or unhides it with `None`). Test hook: moderation (§6.4)
    /// hides hubs in production.
    ///
    /// # Errors
    /// [`StoreError`].
    #[doc(hidden)]
    pub async fn set_hub_hidden(&self, id: &str, hidden_at: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("update hubs set hidden_at = $2 where id = $1")
            .bind(id)
            .bind(hidden_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Stores a probe row with the caller's `id`. Test hook: the probe scheduler (§4) records
    /// probes in production.
    ///
    /// # Errors
    /// [`StoreError`].
    #[doc(hidden)]
    pub async fn insert_probe_row(
        &self,
        id: &str,
        hub_id: &str,
        probe: &crate::store::ProbeRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into probes (id, hub_id, at, kind, outcome, rtt_ms) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(hub_id)
        .bind(probe.at)
        .bind(&probe.kind)
        .bind(&probe.outcome)
        .bind(probe.rtt_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
