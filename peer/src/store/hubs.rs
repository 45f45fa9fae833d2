//! `_hubs`: the hubs this peer takes part in, and where each came from.

use super::{Store, StoreError};
use crate::hub_url::HubUrl;

/// Where a hub entry came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HubSource {
    /// `hubs.urls` of `peer.toml`.
    Config,
    /// `peer join` / `peer leave` without a running daemon.
    Cli,
    /// The local API or the library.
    #[default]
    Api,
}

impl HubSource {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Cli => "cli",
            Self::Api => "api",
        }
    }

    fn parse(word: &str) -> Self {
        match word {
            "cli" => Self::Cli,
            "api" => Self::Api,
            _ => Self::Config,
        }
    }
}

/// A `_hubs` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRow {
    /// The hub.
    pub url: HubUrl,
    /// Where it came from.
    pub source: HubSource,
    /// Whether presence and relay run for it.
    pub enabled: bool,
    /// Unix ms.
    pub added_at: i64,
}

impl Store {
    /// Every stored hub, oldest first. Rows whose URL no longer parses are skipped.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_hubs(&self) -> Result<Vec<HubRow>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "select url, source, enabled, added_at from _hubs order by added_at, url",
        )
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(url, source, enabled, added_at)| {
                Some(HubRow {
                    url: HubUrl::parse(&url).ok()?,
                    source: HubSource::parse(&source),
                    enabled: enabled != 0,
                    added_at,
                })
            })
            .collect())
    }

    /// Adds a hub; an existing row keeps its source and time. Returns whether it was new.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn insert_hub(
        &self,
        url: &HubUrl,
        source: HubSource,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "insert into _hubs (url, source, enabled, added_at) values ($1, $2, 1, $3) \
             on conflict (url) do nothing",
        )
        .bind(url.as_str())
        .bind(source.as_str())
        .bind(now)
        .execute(self.db().pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a hub (its membership row stays, peer.md §1.4). Returns whether it existed.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_hub(&self, url: &HubUrl) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from _hubs where url = $1")
            .bind(url.as_str())
            .execute(self.db().pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn insert_list_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let url = HubUrl::parse("http://h.example").unwrap();

        assert!(store.insert_hub(&url, HubSource::Api, 5).await.unwrap());
        assert!(!store.insert_hub(&url, HubSource::Cli, 6).await.unwrap());
        let rows = store.list_hubs().await.unwrap();
        assert_eq!(
            rows,
            vec![HubRow {
                url: url.clone(),
                source: HubSource::Api,
                enabled: true,
                added_at: 5
            }]
        );
        assert!(store.delete_hub(&url).await.unwrap());
        assert!(!store.delete_hub(&url).await.unwrap());
        store.close().await;
    }
}
