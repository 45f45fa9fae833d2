//! Search over listed hubs (superhub.md §5.1): filters, the per-dialect text match ([`text`])
//! and keyset paging, one query per relevance tier. The text match is the one place where the
//! SQL differs by database.

mod text;

use shared::db::DbKind;

use super::{HubListing, LISTING_COLUMNS, Store, StoreError};
use text::{PrefixWords, TextPart};

/// The order of a result list; ties are always broken by `id` ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// Text rank, best first (needs tokens).
    Relevance,
    /// `member_count` descending, nulls last.
    Members,
    /// `uptime_30d` descending, nulls last.
    Uptime,
    /// `first_listed_at` descending, nulls last.
    Newest,
}

impl SearchSort {
    /// Every order, in the spelling of the `sort` parameter.
    pub const ALL: [Self; 4] = [Self::Relevance, Self::Members, Self::Uptime, Self::Newest];

    /// The `sort` parameter's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevance => "relevance",
            Self::Members => "members",
            Self::Uptime => "uptime",
            Self::Newest => "newest",
        }
    }

    /// The order named `word`.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// The sort key of `hit` under this order.
    pub fn key_of(self, hit: &SearchHit) -> SortKey {
        let int = |v: Option<i64>| v.map_or(SortKey::Null, SortKey::Int);
        let float = |v: Option<f64>| v.map_or(SortKey::Null, SortKey::Float);
        match self {
            Self::Relevance => float(hit.score),
            Self::Members => int(hit.listing.member_count),
            Self::Uptime => float(hit.listing.uptime_30d),
            Self::Newest => int(hit.listing.first_listed_at),
        }
    }
}

/// A sort-column value, compared exactly (floats as the very `f64` the database returned).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey {
    /// The column is null (sorted last).
    Null,
    /// An integer column.
    Int(i64),
    /// A float column or the text rank.
    Float(f64),
}

/// One search: every filter is ANDed; the strings are validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct HubSearch {
    /// Text tokens (letters and digits only, lower-cased); the last one matches as a prefix.
    pub tokens: Vec<String>,
    /// Tags every hit carries.
    pub tags: Vec<String>,
    /// Exact region.
    pub region: Option<String>,
    /// A language every hit lists.
    pub language: Option<String>,
    /// Any of these join modes (empty: all).
    pub join_modes: Vec<String>,
    /// Exact access.
    pub access: Option<String>,
    /// The order; `Relevance` needs tokens.
    pub sort: SearchSort,
    /// Resume after this position (key, id) of the previous page.
    pub after: Option<(SortKey, String)>,
    /// Rows to return.
    pub limit: u32,
}

/// A listed hub that matched, with its text rank (null without tokens or in another order than
/// relevance).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SearchHit {
    /// The hub.
    #[sqlx(flatten)]
    pub listing: HubListing,
    /// bm25 on SQLite (lower is better), `ts_rank` on Postgres (higher is better).
    pub score: Option<f64>,
}

enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
}

/// Dynamic SQL whose values all travel as parameters.
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn new() -> Self {
        Self {
            text: String::new(),
            binds: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }
}

/// Whether each selective filter value (and, on SQLite, the region and, for an order other than
/// relevance, the text) is carried by fewer than [`RARE`] hubs: a rare one drives the search from
/// its index, a common one is tested per hub along the order's index. With several common tags,
/// whether their intersection is read (on SQLite: unless each is carried by [`DENSE`] hubs or more).
/// On Postgres also the exact words the last token's prefix stands for, when they are few
/// ([`PrefixWords`]).
#[derive(Default)]
struct Rarity {
    tags: Vec<bool>,
    intersect_tags: bool,
    region: bool,
    language: bool,
    text: bool,
    prefixed: Option<Vec<String>>,
}

impl Store {
    /// One page of listed, unhidden hubs matching `search`, in its order. With tokens and the
    /// relevance order, each tier is read only when the tiers before it run out before the page
    /// is full (§5.1).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn search_hubs(&self, search: &HubSearch) -> Result<Vec<SearchHit>, StoreError> {
        let rarity = self.rarity(search).await?;
        let kind = self.kind();
        let limit = search.limit as usize;
        let after = search.after.as_ref();
        if search.tokens.is_empty() || search.sort != SearchSort::Relevance {
            let part = TextPart::Unranked {
                common: !rarity.text,
            };
            let mut hits = self
                .fetch(build(kind, search, &rarity, part, after, limit))
                .await?;
            // After a non-null key the page reads the rest of the non-null keys, from the key on
            // along the order's index, and only then the nulls (§5.1: null keys sort last).
            if matches!(after, Some((key, _)) if *key != SortKey::Null) && hits.len() < limit {
                let nulls = (SortKey::Null, String::new());
                let sql = build(
                    kind,
                    search,
                    &rarity,
                    part,
                    Some(&nulls),
                    limit - hits.len(),
                );
                hits.extend(self.fetch(sql).await?);
            }
            return Ok(hits);
        }
        let resume = match after {
            None => 0,
            Some((SortKey::Float(key), _)) => text::tier_of(kind, *key),
            Some(_) => 2,
        };
        // With one token, the second tier is empty: the first holds every name with it.
        let tiers: &[(usize, TextPart)] = if search.tokens.len() == 1 {
            &[(0, TextPart::Names), (2, TextPart::Rest)]
        } else {
            &[
                (0, TextPart::Names),
                (1, TextPart::Partly),
                (2, TextPart::Rest),
            ]
        };
        let mut hits = Vec::new();
        for &(tier, part) in tiers {
            if tier < resume || hits.len() >= limit {
                continue;
            }
            let after = if tier == resume { after } else { None };
            let sql = build(kind, search, &rarity, part, after, limit - hits.len());
            hits.extend(self.fetch(sql).await?);
        }
        Ok(hits)
    }

    async fn fetch(&self, sql: Sql) -> Result<Vec<SearchHit>, StoreError> {
        let mut query = sqlx::query_as::<_, SearchHit>(sqlx::AssertSqlSafe(sql.text));
        for bind in sql.binds {
            query = match bind {
                Bind::Text(v) => query.bind(v),
                Bind::Int(v) => query.bind(v),
                Bind::Float(v) => query.bind(v),
            };
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The rarity of each filter value of `search`, counted concurrently.
    async fn rarity(&self, search: &HubSearch) -> Result<Rarity, StoreError> {
        // With several tags on SQLite, each is counted up to `DENSE`: that decides both its rarity
        // and whether the common ones' intersection is read (`filters`).
        let cap = if search.tags.len() > 1 && self.kind() == DbKind::Sqlite {
            DENSE
        } else {
            RARE
        };
        let tags = futures::future::try_join_all(
            search
                .tags
                .iter()
                .map(|tag| self.carried(RARE_TAG, tag, cap)),
        );
        // Only SQLite's other orders choose between the two plans of a text match; Postgres's
        // planner estimates a text's matches itself.
        let text = (self.kind() == DbKind::Sqlite
            && !search.tokens.is_empty()
            && search.sort != SearchSort::Relevance)
            .then(|| text::fts_phrase(&search.tokens, false));
        // Postgres serves `region =` from `hubs_search_filters` (migration 0007) and its planner
        // chooses between that index and the order's from its statistics: a region is counted on
        // SQLite only.
        let region = search
            .region
            .as_deref()
            .filter(|_| self.kind() == DbKind::Sqlite);
        let (tag_counts, region, language, text, prefixed) = futures::future::try_join5(
            tags,
            self.is_rare_if(RARE_REGION, region),
            self.is_rare_if(RARE_LANGUAGE, search.language.as_deref()),
            self.is_rare_if(RARE_TEXT, text.as_deref()),
            self.prefix_words(search),
        )
        .await?;
        let common: Vec<i64> = tag_counts.iter().copied().filter(|&n| n >= RARE).collect();
        // Postgres reads every intersection: walking its order's index costs a heap visit and an
        // index probe per tag for each hub passed, so there even dense tags' intersection wins.
        let dense = self.kind() == DbKind::Sqlite && common.iter().all(|&n| n >= DENSE);
        Ok(Rarity {
            tags: tag_counts.iter().map(|&n| n < RARE).collect(),
            intersect_tags: common.len() > 1 && !dense,
            region,
            language,
            text,
            prefixed,
        })
    }

    /// Postgres: the words of `search_words` carrying the last token as a prefix, when
    /// [`PrefixWords::usable`] (migration `0008_search_words`); `None` on SQLite, without tokens,
    /// or when the prefix stays `token:*`.
    async fn prefix_words(&self, search: &HubSearch) -> Result<Option<Vec<String>>, StoreError> {
        let Some(last) = search.tokens.last() else {
            return Ok(None);
        };
        if self.kind() != DbKind::Postgres {
            return Ok(None);
        }
        // Tokens hold letters and digits only: no `like` wildcard to escape.
        let words: Vec<String> = sqlx::query_scalar(PrefixWords::QUERY)
            .bind(format!("{last}%"))
            .bind(PrefixWords::MAX + 1)
            .fetch_all(self.pool())
            .await?;
        Ok(PrefixWords::usable(&words).then_some(words))
    }

    /// [`Self::is_rare`] of `value`, or `false` without one.
    async fn is_rare_if(
        &self,
        count: &'static str,
        value: Option<&str>,
    ) -> Result<bool, StoreError> {
        match value {
            Some(value) => self.is_rare(count, value).await,
            None => Ok(false),
        }
    }

    /// Whether fewer than [`RARE`] listed hubs (hubs for tags, languages and text, whose index
    /// rows are not filtered by state) carry `value`.
    async fn is_rare(&self, count: &'static str, value: &str) -> Result<bool, StoreError> {
        Ok(self.carried(count, value, RARE).await? < RARE)
    }

    /// How many hubs carry `value` by the query `count`, counting at most `cap` index entries.
    async fn carried(&self, count: &'static str, value: &str, cap: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(count)
            .bind(value)
            .bind(cap)
            .fetch_one(self.pool())
            .await?)
    }
}

/// A filter value carried by fewer hubs than this drives the search from its index (`hub_tags`,
/// `hub_languages`, `hubs_search_region`, `hubs_fts`); a more common one is tested per hub while
/// the search walks its order's index.
const RARE: i64 = 2_000;
/// Several common tags on SQLite: when the least common of them is carried by fewer hubs than this, their
/// intersection is read by merging their `hub_tags` ranges (at most this many index probes); when
/// every one is carried by this many or more, they likely share many hubs, and walking the order's
/// index with per-hub tests fills a page sooner (measured at 100,000 hubs: tags of 3,196 and 3,730
/// hubs sharing 99, 9.6 ms walking vs 1.2 ms merging; of 4,637 and 11,878, 3.8 vs 3.8 ms; of 9,367
/// and 27,051, 1 vs 10 ms; of 16,522 and 27,051, 0.6 vs 18.6 ms).
const DENSE: i64 = 5_000;
const RARE_TAG: &str = "select cast(count(*) as bigint) from \
     (select 1 from hub_tags where tag = $1 limit $2) c";
const RARE_LANGUAGE: &str = "select cast(count(*) as bigint) from \
     (select 1 from hub_languages where language = $1 limit $2) c";
const RARE_REGION: &str = "select cast(count(*) as bigint) from \
     (select 1 from hubs where lower(region) = $1 and state = 'listed' and hidden_at is null \
      limit $2) c";
/// SQLite only (the FTS5 query of the tokens).
const RARE_TEXT: &str = "select cast(count(*) as bigint) from \
     (select 1 from hubs_fts where hubs_fts match $1 limit $2) c";

/// The filter conditions of `search` other than the text match (and the listed state).
fn filters(search: &HubSearch, rarity: &Rarity, sql: &mut Sql) -> Vec<String> {
    let mut conditions = vec![
        "h.state = 'listed'".to_owned(),
        "h.hidden_at is null".to_owned(),
    ];
    // A rare value's hubs are few: the planner looks them up and sorts them. A common value is a
    // per-hub test, so the search walks the order's index and stops at the page's end. Several
    // common tags may share few hubs, so that walk could pass most hubs before a page fills:
    // unless each is very common on SQLite ([`DENSE`]), their intersection is read instead, by
    // merging their `hub_tags` ranges.
    let intersect = rarity.intersect_tags;
    let common: Vec<&String> = search
        .tags
        .iter()
        .zip(&rarity.tags)
        .filter(|(_, rare)| !**rare)
        .map(|(tag, _)| tag)
        .collect();
    for (tag, &rare) in search.tags.iter().zip(&rarity.tags) {
        if rare {
            let p = sql.bind(Bind::Text(tag.clone()));
            conditions.push(format!(
                "h.id in (select hub_id from hub_tags where tag = {p})"
            ));
        } else if common.len() == 1 || !intersect {
            let p = sql.bind(Bind::Text(tag.clone()));
            conditions.push(format!(
                "exists (select 1 from hub_tags t where t.tag = {p} and t.hub_id = h.id)"
            ));
        }
    }
    if let [first, others @ ..] = common.as_slice()
        && !others.is_empty()
        && intersect
    {
        let p = sql.bind(Bind::Text((*first).clone()));
        let joins: String = others
            .iter()
            .enumerate()
            .map(|(i, tag)| {
                let p = sql.bind(Bind::Text((*tag).clone()));
                let n = i + 1;
                format!(" join hub_tags t{n} on t{n}.hub_id = t0.hub_id and t{n}.tag = {p}")
            })
            .collect();
        conditions.push(format!(
            "h.id in (select t0.hub_id from hub_tags t0{joins} where t0.tag = {p})"
        ));
    }
    if let Some(language) = &search.language {
        conditions.push(if rarity.language {
            let p = sql.bind(Bind::Text(language.clone()));
            format!("h.id in (select hub_id from hub_languages where language = {p})")
        } else {
            let p = sql.bind(Bind::Text(format!("%\"{language}\"%")));
            format!("h.languages like {p}")
        });
    }
    if let Some(region) = &search.region {
        let p = sql.bind(Bind::Text(region.clone()));
        // `lower(region)` is the spelling `hubs_search_region` serves; plain `region` is not. (An
        // `id in (select … from hubs …)` lookup lets Postgres probe it per hub of the order's index.)
        conditions.push(if rarity.region {
            format!("lower(h.region) = {p}")
        } else {
            format!("h.region = {p}")
        });
    }
    if let Some(access) = &search.access {
        let p = sql.bind(Bind::Text(access.clone()));
        conditions.push(format!("h.access = {p}"));
    }
    if !search.join_modes.is_empty() {
        let list = search
            .join_modes
            .iter()
            .map(|m| sql.bind(Bind::Text(m.clone())))
            .collect::<Vec<_>>()
            .join(", ");
        conditions.push(format!("h.join_mode in ({list})"));
    }
    conditions
}

/// The page query of `search` over the matches of `part`: `Names` and `Rest` rank every match
/// of their tier; the other orders (and `relevance` without tokens) leave the text rank uncomputed.
fn build(
    kind: DbKind,
    search: &HubSearch,
    rarity: &Rarity,
    part: TextPart,
    after_key: Option<&(SortKey, String)>,
    limit: usize,
) -> Sql {
    let mut sql = Sql::new();
    let unranked = "cast(null as double precision)".to_owned();
    let mut from = "hubs h".to_owned();
    let mut score = unranked;
    let mut lower_is_better = true;
    let mut conditions = Vec::new();
    if !search.tokens.is_empty() {
        let prefixed = rarity.prefixed.as_deref();
        let text = text::text_match(kind, &search.tokens, prefixed, part, &mut sql);
        from = text.from;
        conditions.push(text.condition);
        if let Some(rank) = text.score {
            score = rank;
            lower_is_better = text.lower_is_better;
        }
    }
    conditions.extend(filters(search, rarity, &mut sql));
    let (column, outer, direction) = match search.sort {
        SearchSort::Relevance if !search.tokens.is_empty() => (
            score.clone(),
            "p.score",
            if lower_is_better { "asc" } else { "desc" },
        ),
        SearchSort::Relevance | SearchSort::Members => {
            ("h.member_count".to_owned(), "h.member_count", "desc")
        }
        SearchSort::Uptime => ("h.uptime_30d".to_owned(), "h.uptime_30d", "desc"),
        SearchSort::Newest => ("h.first_listed_at".to_owned(), "h.first_listed_at", "desc"),
    };
    if let Some((key, id)) = after_key {
        let ranked = outer == "p.score";
        conditions.push(after(&mut sql, &column, direction, *key, id, ranked));
    }
    let limit = sql.bind(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    // Ordering by the alias computes the rank once per row.
    let inner = if outer == "p.score" { "score" } else { &column };
    // The page's ids are found first and its rows read after: a row is wide (the envelope), and
    // the filters, the order and the text rank need only indexed columns.
    sql.text = format!(
        "select {LISTING_COLUMNS}, p.score as score from \
         (select h.id as id, {score} as score from {from} where {} \
          order by {inner} {direction} nulls last, h.id asc limit {limit}) p \
         join hubs h on h.id = p.id order by {outer} {direction} nulls last, h.id asc",
        conditions.join(" and ")
    );
    sql
}

/// The keyset condition "after (key, id)" for `column` ordered `direction` with nulls last. A
/// column's non-null key leaves out the nulls (the caller reads them next) and bounds the column
/// plainly, so the order's index starts at the key instead of walking every earlier hub; the text
/// rank (`ranked`) is never null and indexes serve no order by it.
fn after(
    sql: &mut Sql,
    column: &str,
    direction: &str,
    key: SortKey,
    id: &str,
    ranked: bool,
) -> String {
    let i = sql.bind(Bind::Text(id.to_owned()));
    let k = match key {
        SortKey::Null => return format!("({column} is null and h.id > {i})"),
        SortKey::Int(v) => sql.bind(Bind::Int(v)),
        SortKey::Float(v) => sql.bind(Bind::Float(v)),
    };
    let beyond = if direction == "asc" { ">" } else { "<" };
    if ranked {
        format!("({column} {beyond} {k} or ({column} = {k} and h.id > {i}) or {column} is null)")
    } else {
        format!("({column} {beyond}= {k} and ({column} {beyond} {k} or h.id > {i}))")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_tags() -> HubSearch {
        HubSearch {
            tokens: Vec::new(),
            tags: vec!["alpha".to_owned(), "beta".to_owned()],
            region: None,
            language: None,
            join_modes: Vec::new(),
            access: None,
            sort: SearchSort::Members,
            after: None,
            limit: 20,
        }
    }

    #[test]
    fn common_tags_are_intersected_or_tested_per_hub_as_the_rarity_says() {
        let search = two_tags();
        let conditions = |intersect_tags| {
            let rarity = Rarity {
                tags: vec![false, false],
                intersect_tags,
                ..Rarity::default()
            };
            filters(&search, &rarity, &mut Sql::new())
        };

        let merged = conditions(true);
        let walked = conditions(false);

        let count = |conditions: &[String], needle: &str| {
            conditions.iter().filter(|c| c.contains(needle)).count()
        };
        assert_eq!(count(&merged, "join hub_tags t1"), 1, "{merged:?}");
        assert_eq!(count(&merged, "exists"), 0, "{merged:?}");
        assert_eq!(count(&walked, "exists"), 2, "{walked:?}");
        assert_eq!(count(&walked, "join hub_tags"), 0, "{walked:?}");
    }
}
