//! `_chat_messages`: direct chat history (peer.md §7.1), capped to the newest
//! [`HISTORY_PER_PEER`] rows per conversation.

use super::{Store, StoreError};

/// Rows kept per `peer_id`.
pub const HISTORY_PER_PEER: i64 = 200;

/// A stored chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRow {
    /// Row id (increasing).
    pub id: i64,
    /// The conversation: the other peer.
    pub peer_id: String,
    /// The author (the other peer or us).
    pub from_id: String,
    /// The text.
    pub content: String,
    /// Unix ms.
    pub ts: i64,
    /// The MQ message id.
    pub msg_id: Option<String>,
}

/// A line to store.
#[derive(Debug, Clone, Copy)]
pub struct NewChat<'a> {
    /// The conversation.
    pub peer_id: &'a str,
    /// The author.
    pub from_id: &'a str,
    /// The text.
    pub content: &'a str,
    /// Unix ms.
    pub ts: i64,
    /// The MQ message id.
    pub msg_id: &'a str,
}

impl Store {
    /// Stores a line and trims its conversation to the newest [`HISTORY_PER_PEER`] rows, in one
    /// transaction. Returns the row id.
    ///
    /// # Errors
    /// [`StoreError`]; nothing is written then.
    pub async fn insert_chat_message(&self, chat: NewChat<'_>) -> Result<i64, StoreError> {
        let mut tx = self.db().begin_write().await?;
        let (id,): (i64,) = sqlx::query_as(
            "insert into _chat_messages (peer_id, from_id, content, ts, msg_id) \
             values ($1, $2, $3, $4, $5) returning id",
        )
        .bind(chat.peer_id)
        .bind(chat.from_id)
        .bind(chat.content)
        .bind(chat.ts)
        .bind(chat.msg_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "delete from _chat_messages where peer_id = $1 and id not in \
             (select id from _chat_messages where peer_id = $1 order by ts desc, id desc limit $2)",
        )
        .bind(chat.peer_id)
        .bind(HISTORY_PER_PEER)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest `limit` lines of a conversation older than `before` (unix ms), oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_chat_messages(
        &self,
        peer_id: &str,
        limit: i64,
        before: Option<i64>,
    ) -> Result<Vec<ChatRow>, StoreError> {
        let rows: Vec<(i64, String, String, i64, Option<String>)> = sqlx::query_as(
            "select id, from_id, content, ts, msg_id from _chat_messages \
             where peer_id = $1 and ts < $2 order by ts desc, id desc limit $3",
        )
        .bind(peer_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows
            .into_iter()
            .rev()
            .map(|(id, from_id, content, ts, msg_id)| ChatRow {
                id,
                peer_id: peer_id.to_owned(),
                from_id,
                content,
                ts,
                msg_id,
            })
            .collect())
    }

    /// Deletes a conversation; returns the number of lines removed.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_chat_messages(&self, peer_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("delete from _chat_messages where peer_id = $1")
            .bind(peer_id)
            .execute(self.db().pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(peer_id: &'a str, content: &'a str, ts: i64) -> NewChat<'a> {
        NewChat {
            peer_id,
            from_id: peer_id,
            content,
            ts,
            msg_id: "m",
        }
    }

    #[tokio::test]
    async fn history_is_capped_per_peer_and_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        for ts in 0..(HISTORY_PER_PEER + 10) {
            store
                .insert_chat_message(line("a", &ts.to_string(), ts))
                .await
                .unwrap();
        }
        store
            .insert_chat_message(line("b", "other", 5))
            .await
            .unwrap();

        let all = store.list_chat_messages("a", 1000, None).await.unwrap();
        assert_eq!(all.len() as i64, HISTORY_PER_PEER);
        assert_eq!(all[0].ts, 10);
        assert_eq!(all.last().unwrap().ts, HISTORY_PER_PEER + 9);
        let page = store.list_chat_messages("a", 3, Some(100)).await.unwrap();
        assert_eq!(
            page.iter().map(|r| r.ts).collect::<Vec<_>>(),
            vec![97, 98, 99]
        );
        assert_eq!(
            store.delete_chat_messages("a").await.unwrap() as i64,
            HISTORY_PER_PEER
        );
        assert_eq!(
            store.list_chat_messages("b", 50, None).await.unwrap().len(),
            1
        );
        store.close().await;
    }
}
