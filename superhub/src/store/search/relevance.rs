//! The relevance order (superhub.md §5.1): the first [`RANKED_MATCHES`] matches in the text index's own
//! order (SQLite: the `hubs_fts` rowid; Postgres: the hub id) are ranked, best first; any further
//! matches follow unranked (null key) by id. The rank is computed for at most [`RANKED_MATCHES`] hubs, and
//! a broad query stops reading its matches after that many, so its cost is bounded however many
//! hubs it matches.

use shared::db::DbKind;

use super::{
    Bind, HubSearch, LISTING_COLUMNS, Rarity, SearchHit, SortKey, Sql, Store, StoreError, after,
    filters, text_match,
};

/// Matches ranked per query; the rest of a broad query's matches follow by id.
pub const RANKED_MATCHES: i64 = 200;

impl Store {
    /// One page of `search` (tokens, relevance order): ranked candidates, then unranked matches.
    pub(super) async fn search_ranked(
        &self,
        search: &HubSearch,
        rarity: &Rarity,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let limit = i64::from(search.limit);
        let mut hits = Vec::new();
        let tail_after = match &search.after {
            Some((SortKey::Null, id)) => Some(id.as_str()),
            after => {
                hits = self
                    .fetch(self.ranked(search, rarity, after.as_ref()))
                    .await?;
                None
            }
        };
        let missing = limit - hits.len() as i64;
        if missing > 0 {
            let tail = self.unranked(search, rarity, tail_after, missing);
            hits.extend(self.fetch(tail).await?);
        }
        Ok(hits)
    }

    /// The ranked candidates after `after`, best first.
    fn ranked(
        &self,
        search: &HubSearch,
        rarity: &Rarity,
        after_key: Option<&(SortKey, String)>,
    ) -> Sql {
        let mut sql = Sql::new();
        let candidates = candidates(self, search, rarity, &mut sql, true);
        // bm25 (SQLite) is better lower, ts_rank (Postgres) higher.
        let direction = match self.kind() {
            DbKind::Sqlite => "asc",
            DbKind::Postgres => "desc",
        };
        let keyset = after_key.map_or_else(
            || "1 = 1".to_owned(),
            |(key, id)| after(&mut sql, "r.score", "r.id", direction, *key, id),
        );
        let limit = sql.bind(Bind::Int(i64::from(search.limit)));
        sql.text = format!(
            "select {LISTING_COLUMNS}, p.score as score from \
             (select r.id as id, r.score as score from ({candidates}) r where {keyset} \
              order by r.score {direction} nulls last, r.id asc limit {limit}) p \
             join hubs h on h.id = p.id order by p.score {direction} nulls last, h.id asc"
        );
        sql
    }

    /// The matches that are not ranked candidates, by id after `after_id`.
    fn unranked(
        &self,
        search: &HubSearch,
        rarity: &Rarity,
        after_id: Option<&str>,
        limit: i64,
    ) -> Sql {
        let mut sql = Sql::new();
        let candidates = candidates(self, search, rarity, &mut sql, false);
        let text = text_match(self.kind(), &search.tokens, &mut sql);
        let mut conditions = vec![text.condition];
        conditions.extend(filters(search, rarity, &mut sql));
        conditions.push(format!("h.id not in (select c.id from ({candidates}) c)"));
        if let Some(id) = after_id {
            let i = sql.bind(Bind::Text(id.to_owned()));
            conditions.push(format!("h.id > {i}"));
        }
        let limit = sql.bind(Bind::Int(limit));
        sql.text = format!(
            "select {LISTING_COLUMNS}, cast(null as double precision) as score from \
             (select h.id as id from {} where {} order by h.id asc limit {limit}) p \
             join hubs h on h.id = p.id order by h.id asc",
            text.from,
            conditions.join(" and ")
        );
        sql
    }
}

/// The candidates' query (`id`, and `score` when `scored`): the first [`RANKED_MATCHES`] matches of
/// `search` in the text index's order.
fn candidates(
    store: &Store,
    search: &HubSearch,
    rarity: &Rarity,
    sql: &mut Sql,
    scored: bool,
) -> String {
    let text = text_match(store.kind(), &search.tokens, sql);
    let mut conditions = vec![text.condition];
    conditions.extend(filters(search, rarity, sql));
    let ranked = sql.bind(Bind::Int(RANKED_MATCHES));
    let (carried, rank) = if scored {
        (
            format!(", {} as rank_input", text.carried),
            format!(", {} as score", text.rank),
        )
    } else {
        (String::new(), String::new())
    };
    format!(
        "select k.id as id{rank} from (select h.id as id{carried} from {} where {} \
         order by {} limit {ranked}) k",
        text.from,
        conditions.join(" and "),
        text.preorder
    )
}
