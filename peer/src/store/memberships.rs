//! `_memberships`: our membership at each signed hub (peer.md §3.6) — hub id, state, tier — as
//! `auth-ok` and `GET /api/v1/membership` report it. The join flow adds vouchers and the
//! community; a changed hub id drops the stored voucher.

use super::{Store, StoreError};
use crate::hub_url::HubUrl;

/// A `_memberships` row (the fields the presence client reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    /// The hub.
    pub hub_url: String,
    /// Its hub id when last seen (empty when unknown).
    pub hub_id: String,
    /// Membership state.
    pub state: String,
    /// Tier.
    pub tier: Option<String>,
    /// When the stored voucher expires (unix ms).
    pub voucher_expires_at: Option<i64>,
    /// Unix ms of the last change.
    pub updated_at: i64,
}

type Row = (String, String, String, Option<String>, Option<i64>, i64);

fn row((hub_url, hub_id, state, tier, voucher_expires_at, updated_at): Row) -> MembershipRow {
    MembershipRow {
        hub_url,
        hub_id,
        state,
        tier,
        voucher_expires_at,
        updated_at,
    }
}

impl Store {
    /// The membership row of `url`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn membership(&self, url: &HubUrl) -> Result<Option<MembershipRow>, StoreError> {
        let found: Option<Row> = sqlx::query_as(
            "select hub_url, hub_id, state, tier, voucher_expires_at, updated_at \
             from _memberships where hub_url = $1",
        )
        .bind(url.as_str())
        .fetch_optional(self.db().pool())
        .await?;
        Ok(found.map(row))
    }

    /// Every membership row, by URL.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_memberships(&self) -> Result<Vec<MembershipRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "select hub_url, hub_id, state, tier, voucher_expires_at, updated_at \
             from _memberships order by hub_url",
        )
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.into_iter().map(row).collect())
    }

    /// Records `state` and `tier` at `url` (hub id `hub_id`); a different stored hub id, or the
    /// state `none` or `banned`, drops the voucher (peer.md §3, §3.6).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn set_membership(
        &self,
        url: &HubUrl,
        hub_id: &str,
        state: &str,
        tier: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into _memberships (hub_url, hub_id, state, tier, updated_at) \
             values ($1, $2, $3, $4, $5) \
             on conflict (hub_url) do update set \
               voucher = case when (_memberships.hub_id <> excluded.hub_id \
                 and _memberships.hub_id <> '') or excluded.state in ('none', 'banned') \
                 then null else _memberships.voucher end, \
               voucher_expires_at = case when (_memberships.hub_id <> excluded.hub_id \
                 and _memberships.hub_id <> '') or excluded.state in ('none', 'banned') \
                 then null else _memberships.voucher_expires_at end, \
               hub_id = excluded.hub_id, state = excluded.state, tier = excluded.tier, \
               updated_at = excluded.updated_at",
        )
        .bind(url.as_str())
        .bind(hub_id)
        .bind(state)
        .bind(tier)
        .bind(now)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }
}

/// A voucher checked by the join flow (peer.md §3.6 step 7), with what it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoucher<'a> {
    /// The issuing hub id.
    pub hub_id: &'a str,
    /// The hub's slug.
    pub community: &'a str,
    /// Membership state.
    pub state: &'a str,
    /// Tier.
    pub tier: &'a str,
    /// The compact JWS.
    pub voucher: &'a str,
    /// Its `exp` in unix ms.
    pub expires_at: i64,
}

impl Store {
    /// Stores a checked voucher at `url` with the membership it reports.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn store_voucher(
        &self,
        url: &HubUrl,
        voucher: &StoredVoucher<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into _memberships (hub_url, hub_id, community, state, tier, voucher, \
               voucher_expires_at, last_error, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, null, $8) \
             on conflict (hub_url) do update set hub_id = excluded.hub_id, \
               community = excluded.community, state = excluded.state, tier = excluded.tier, \
               voucher = excluded.voucher, voucher_expires_at = excluded.voucher_expires_at, \
               last_error = null, updated_at = excluded.updated_at",
        )
        .bind(url.as_str())
        .bind(voucher.hub_id)
        .bind(voucher.community)
        .bind(voucher.state)
        .bind(voucher.tier)
        .bind(voucher.voucher)
        .bind(voucher.expires_at)
        .bind(now)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// The stored voucher of `url`, when there is one.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn voucher(&self, url: &HubUrl) -> Result<Option<String>, StoreError> {
        let found: Option<(Option<String>,)> =
            sqlx::query_as("select voucher from _memberships where hub_url = $1")
                .bind(url.as_str())
                .fetch_optional(self.db().pool())
                .await?;
        Ok(found.and_then(|(v,)| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn set_membership_upserts_and_a_new_hub_id_drops_the_voucher() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let url = HubUrl::parse("http://h.example").unwrap();
        store
            .set_membership(&url, "A", "none", None, 1)
            .await
            .unwrap();
        sqlx::query("update _memberships set voucher = 'v', voucher_expires_at = 9")
            .execute(store.db().pool())
            .await
            .unwrap();

        store
            .set_membership(&url, "A", "active", Some("member"), 2)
            .await
            .unwrap();
        let kept = store.membership(&url).await.unwrap().unwrap();
        assert_eq!(kept.state, "active");
        assert_eq!(kept.tier.as_deref(), Some("member"));
        assert_eq!(kept.voucher_expires_at, Some(9));

        store
            .set_membership(&url, "B", "active", Some("member"), 3)
            .await
            .unwrap();
        let changed = store.membership(&url).await.unwrap().unwrap();
        assert_eq!(changed.hub_id, "B");
        assert_eq!(changed.voucher_expires_at, None);
        assert_eq!(store.list_memberships().await.unwrap().len(), 1);
        store.close().await;
    }
}
