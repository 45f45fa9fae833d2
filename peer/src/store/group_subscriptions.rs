//! `_group_subscriptions` (peer.md §12): the groups we joined at other hosts (and our own, as
//! `admin`), kept across restarts so we rejoin them (§8.6).

use super::{Store, StoreError};

/// A subscription row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriptionRow {
    /// The host.
    pub host_peer_id: String,
    /// The group at that host.
    pub group_id: String,
    /// Its name as the host said.
    pub group_name: String,
    /// Its type.
    pub group_type: String,
    /// Our role.
    pub role: String,
    /// Unix ms.
    pub subscribed_at: i64,
    /// 0 = no limit.
    pub max_members: u32,
    /// Closed when the host stops.
    pub volatile: bool,
    /// The host's display name.
    pub host_name: String,
    /// Hub URL whose voucher we present on join ("" = none).
    pub community: String,
}

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    String,
);

fn subscription(r: Row) -> SubscriptionRow {
    SubscriptionRow {
        host_peer_id: r.0,
        group_id: r.1,
        group_name: r.2.unwrap_or_default(),
        group_type: r.3.unwrap_or_default(),
        role: r.4,
        subscribed_at: r.5,
        max_members: u32::try_from(r.6).unwrap_or(0),
        volatile: r.7 != 0,
        host_name: r.8.unwrap_or_default(),
        community: r.9,
    }
}

impl Store {
    /// Adds or refreshes a subscription (the first `subscribed_at` is kept).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn upsert_group_subscription(&self, s: &SubscriptionRow) -> Result<(), StoreError> {
        sqlx::query(
            "insert into _group_subscriptions (host_peer_id, group_id, group_name, group_type, \
               role, subscribed_at, max_members, volatile, host_name, community) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             on conflict (host_peer_id, group_id) do update set group_name = excluded.group_name, \
               group_type = excluded.group_type, role = excluded.role, \
               max_members = excluded.max_members, volatile = excluded.volatile, \
               host_name = excluded.host_name, community = excluded.community",
        )
        .bind(&s.host_peer_id)
        .bind(&s.group_id)
        .bind(&s.group_name)
        .bind(&s.group_type)
        .bind(&s.role)
        .bind(s.subscribed_at)
        .bind(i64::from(s.max_members))
        .bind(i64::from(s.volatile))
        .bind(&s.host_name)
        .bind(&s.community)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// Deletes a subscription and the member list stored for it, in one transaction.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_group_subscription(
        &self,
        host_peer_id: &str,
        group_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.db().begin_write().await?;
        sqlx::query("delete from _group_subscriptions where host_peer_id = $1 and group_id = $2")
            .bind(host_peer_id)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "delete from _group_members where group_id = $1 \
             and not exists (select 1 from _groups where id = $1)",
        )
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every subscription, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_group_subscriptions(&self) -> Result<Vec<SubscriptionRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "select host_peer_id, group_id, group_name, group_type, role, subscribed_at, \
             max_members, volatile, host_name, community from _group_subscriptions \
             order by subscribed_at, host_peer_id, group_id",
        )
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.into_iter().map(subscription).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscriptions_upsert_list_and_delete_with_their_members() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let mut row = SubscriptionRow {
            host_peer_id: "h".into(),
            group_id: "g".into(),
            group_name: "n".into(),
            group_type: "chat".into(),
            role: "member".into(),
            subscribed_at: 5,
            max_members: 0,
            volatile: false,
            host_name: String::new(),
            community: String::new(),
        };
        store.upsert_group_subscription(&row).await.unwrap();
        row.role = "viewer".into();
        row.subscribed_at = 9;
        store.upsert_group_subscription(&row).await.unwrap();
        let listed = store.list_group_subscriptions().await.unwrap();
        assert_eq!(
            (listed[0].role.as_str(), listed[0].subscribed_at),
            ("viewer", 5)
        );
        let m = crate::store::GroupMemberRow {
            peer_id: "p".into(),
            role: "r".into(),
            name: None,
            joined_at: 1,
        };
        store.replace_group_members("g", &[m]).await.unwrap();
        store.delete_group_subscription("h", "g").await.unwrap();
        assert!(store.list_group_subscriptions().await.unwrap().is_empty());
        assert!(store.list_group_members("g").await.unwrap().is_empty());
        store.close().await;
    }
}
