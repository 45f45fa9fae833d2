//! `_group_access` (peer.md §12): per hosted group, PeerIds invited (for 7 days, until they
//! join) and banned.

use super::{Store, StoreError};

/// A peer's access entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Invited and not yet joined (the invitation has not expired).
    Invited,
    /// Banned.
    Banned,
}

impl Store {
    /// Records `state` (`invited` or `banned`) for `peer_id` in `group_id`, replacing any entry.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn insert_group_access(
        &self,
        group_id: &str,
        peer_id: &str,
        state: &str,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into _group_access (group_id, peer_id, state, created_at, expires_at) \
             values ($1, $2, $3, $4, $5) on conflict (group_id, peer_id) do update set \
             state = excluded.state, created_at = excluded.created_at, \
             expires_at = excluded.expires_at",
        )
        .bind(group_id)
        .bind(peer_id)
        .bind(state)
        .bind(now)
        .bind(expires_at)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// The access entry of `peer_id` in `group_id` at `now` (expired invitations do not count).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn find_group_access(
        &self,
        group_id: &str,
        peer_id: &str,
        now: i64,
    ) -> Result<Option<Access>, StoreError> {
        let found: Option<(String,)> = sqlx::query_as(
            "select state from _group_access where group_id = $1 and peer_id = $2 \
             and (expires_at is null or expires_at > $3)",
        )
        .bind(group_id)
        .bind(peer_id)
        .bind(now)
        .fetch_optional(self.db().pool())
        .await?;
        Ok(found.and_then(|(state,)| match state.as_str() {
            "invited" => Some(Access::Invited),
            "banned" => Some(Access::Banned),
            _ => None,
        }))
    }

    /// Removes the entry of `peer_id` in `group_id` (a used invitation, an unban).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_group_access(
        &self,
        group_id: &str,
        peer_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("delete from _group_access where group_id = $1 and peer_id = $2")
            .bind(group_id)
            .bind(peer_id)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invitations_expire_and_bans_replace_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store
            .insert_group_access("g", "p", "invited", 0, Some(10))
            .await
            .unwrap();
        assert_eq!(
            store.find_group_access("g", "p", 9).await.unwrap(),
            Some(Access::Invited)
        );
        assert_eq!(store.find_group_access("g", "p", 10).await.unwrap(), None);
        store
            .insert_group_access("g", "p", "banned", 11, None)
            .await
            .unwrap();
        assert_eq!(
            store.find_group_access("g", "p", 99).await.unwrap(),
            Some(Access::Banned)
        );
        assert!(
            store
                .insert_group_access("g", "p", "other", 1, None)
                .await
                .is_err()
        );
        store.delete_group_access("g", "p").await.unwrap();
        assert_eq!(store.find_group_access("g", "p", 0).await.unwrap(), None);
        store.close().await;
    }
}
