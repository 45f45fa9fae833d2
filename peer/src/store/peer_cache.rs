//! `_peer_cache`: the peer table as it was, so favourites, blocks and known peers survive a
//! restart (peer.md §12). The table decides when to write (at most once per peer per 30 s).

use libp2p::PeerId;
use sqlx::Row as _;

use super::{Store, StoreError};

/// One `_peer_cache` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCacheRow {
    /// The peer.
    pub peer_id: PeerId,
    /// Display name.
    pub label: String,
    /// Announced email.
    pub email: String,
    /// `avatarHash`.
    pub avatar_hash: String,
    /// `goopClientVersion`.
    pub client_version: String,
    /// Announced encryption key.
    pub public_key: String,
    /// Announced addresses.
    pub addrs: Vec<String>,
    /// Unix ms of the newest sighting.
    pub last_seen: i64,
    /// User flag.
    pub favorite: bool,
    /// User flag.
    pub blocked: bool,
}

impl Store {
    /// At most `limit` rows, favourites and blocked peers first, then the most recently seen.
    /// Rows whose PeerId no longer parses are skipped; unreadable `addrs` read as none.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_peer_cache(&self, limit: usize) -> Result<Vec<PeerCacheRow>, StoreError> {
        let rows = sqlx::query(
            "select peer_id, coalesce(label, '') as label, coalesce(email, '') as email, \
             coalesce(avatar_hash, '') as avatar_hash, \
             coalesce(client_version, '') as client_version, public_key, \
             coalesce(addrs, '[]') as addrs, coalesce(last_seen, 0) as last_seen, favorite, \
             blocked from _peer_cache \
             order by max(favorite, blocked) desc, last_seen desc limit $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db().pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Ok(peer_id) = row.try_get::<String, _>("peer_id")?.parse::<PeerId>() else {
                continue;
            };
            let addrs: String = row.try_get("addrs")?;
            out.push(PeerCacheRow {
                peer_id,
                label: row.try_get("label")?,
                email: row.try_get("email")?,
                avatar_hash: row.try_get("avatar_hash")?,
                client_version: row.try_get("client_version")?,
                public_key: row.try_get("public_key")?,
                addrs: serde_json::from_str(&addrs).unwrap_or_default(),
                last_seen: row.try_get("last_seen")?,
                favorite: row.try_get::<i64, _>("favorite")? != 0,
                blocked: row.try_get::<i64, _>("blocked")? != 0,
            });
        }
        Ok(out)
    }

    /// Writes `rows` (insert or replace; `protocols` is kept) and deletes the rows of `removed`,
    /// in one transaction.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is written then.
    pub async fn write_peer_cache(
        &self,
        rows: &[PeerCacheRow],
        removed: &[PeerId],
    ) -> Result<(), StoreError> {
        let mut tx = self.db().begin_write().await?;
        for peer in removed {
            sqlx::query("delete from _peer_cache where peer_id = $1")
                .bind(peer.to_base58())
                .execute(&mut *tx)
                .await?;
        }
        for row in rows {
            let addrs = serde_json::to_string(&row.addrs).unwrap_or_else(|_| "[]".to_owned());
            sqlx::query(
                "insert into _peer_cache (peer_id, label, email, avatar_hash, client_version, \
                 public_key, addrs, last_seen, favorite, blocked) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 on conflict (peer_id) do update set label = excluded.label, \
                 email = excluded.email, avatar_hash = excluded.avatar_hash, \
                 client_version = excluded.client_version, public_key = excluded.public_key, \
                 addrs = excluded.addrs, last_seen = excluded.last_seen, \
                 favorite = excluded.favorite, blocked = excluded.blocked",
            )
            .bind(row.peer_id.to_base58())
            .bind(&row.label)
            .bind(&row.email)
            .bind(&row.avatar_hash)
            .bind(&row.client_version)
            .bind(&row.public_key)
            .bind(addrs)
            .bind(row.last_seen)
            .bind(i64::from(row.favorite))
            .bind(i64::from(row.blocked))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(favorite: bool, last_seen: i64) -> PeerCacheRow {
        PeerCacheRow {
            peer_id: PeerId::random(),
            label: "alice".to_owned(),
            email: String::new(),
            avatar_hash: "00ff".to_owned(),
            client_version: "goop-peer/0.1.0".to_owned(),
            public_key: String::new(),
            addrs: vec!["/ip4/192.0.2.1/tcp/4001".to_owned()],
            last_seen,
            favorite,
            blocked: false,
        }
    }

    #[tokio::test]
    async fn rows_round_trip_favourites_first_and_deletes_apply() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let (old_favourite, recent, gone) = (row(true, 1), row(false, 9), row(false, 5));

        store
            .write_peer_cache(&[recent.clone(), old_favourite.clone(), gone.clone()], &[])
            .await
            .unwrap();
        store.write_peer_cache(&[], &[gone.peer_id]).await.unwrap();

        let listed = store.list_peer_cache(10).await.unwrap();
        assert_eq!(listed, vec![old_favourite.clone(), recent]);
        assert_eq!(store.list_peer_cache(1).await.unwrap(), vec![old_favourite]);
        store.close().await;
    }

    #[tokio::test]
    async fn a_row_with_a_corrupt_peer_id_or_addrs_is_skipped_or_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let good = row(false, 3);
        store
            .write_peer_cache(std::slice::from_ref(&good), &[])
            .await
            .unwrap();
        sqlx::query("insert into _peer_cache (peer_id, last_seen) values ('nope', 4)")
            .execute(store.db().pool())
            .await
            .unwrap();
        sqlx::query("update _peer_cache set addrs = '{' where peer_id = $1")
            .bind(good.peer_id.to_base58())
            .execute(store.db().pool())
            .await
            .unwrap();

        let listed = store.list_peer_cache(10).await.unwrap();

        assert_eq!(listed.len(), 1);
        assert!(listed[0].addrs.is_empty());
        store.close().await;
    }
}
