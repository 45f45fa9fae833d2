//! Search over listed hubs (superhub.md §5.1): filters, the per-dialect text match and keyset
//! paging in one query. The text match is the one place where the SQL differs by database.

use shared::db::DbKind;

use super::{HubListing, LISTING_COLUMNS, Store, StoreError};

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
    /// Binds `value` and returns its placeholder.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }
}

impl Store {
    /// One page of listed, unhidden hubs matching `search`, in its order.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn search_hubs(&self, search: &HubSearch) -> Result<Vec<SearchHit>, StoreError> {
        let mut rare = Vec::with_capacity(search.tags.len());
        for tag in &search.tags {
            rare.push(self.tag_is_rare(tag).await?);
        }
        let sql = build(self.kind(), search, &rare);
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
}

/// A tag carried by fewer hubs than this drives the search from `hub_tags`; a more common one is
/// tested per hub while the search walks its order's index.
const RARE_TAG: i64 = 2_000;

impl Store {
    /// Whether fewer than [`RARE_TAG`] hubs carry `tag` (counts at most that many index entries).
    async fn tag_is_rare(&self, tag: &str) -> Result<bool, StoreError> {
        let carried: i64 = sqlx::query_scalar(
            "select cast(count(*) as bigint) from \
             (select 1 from hub_tags where tag = $1 limit $2) c",
        )
        .bind(tag)
        .bind(RARE_TAG)
        .fetch_one(self.pool())
        .await?;
        Ok(carried < RARE_TAG)
    }
}

/// The text-match pieces of `kind`: (from clause, score expression, match condition, whether a
/// lower score is better).
fn text_match(kind: DbKind, tokens: &[String], sql: &mut Sql) -> (String, String, String, bool) {
    let last = tokens.len().saturating_sub(1);
    match kind {
        DbKind::Sqlite => {
            let phrase = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| format!("\"{t}\"{}", if i == last { "*" } else { "" }))
                .collect::<Vec<_>>()
                .join(" ");
            let p = sql.bind(Bind::Text(phrase));
            (
                "hubs_fts join hubs h on h.id = hubs_fts.id".to_owned(),
                "bm25(hubs_fts, 0, 4.0, 3.0, 2.0, 1.0)".to_owned(),
                format!("hubs_fts match {p}"),
                true,
            )
        }
        DbKind::Postgres => {
            let terms = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{t}{}", if i == last { ":*" } else { "" }))
                .collect::<Vec<_>>()
                .join(" & ");
            let p = sql.bind(Bind::Text(terms));
            (
                "hubs h".to_owned(),
                format!("cast(ts_rank(h.search, to_tsquery('simple', {p})) as double precision)"),
                format!("h.search @@ to_tsquery('simple', {p})"),
                false,
            )
        }
    }
}

/// The page query of `search`; `rare[i]` says whether `search.tags[i]` is a rare tag.
fn build(kind: DbKind, search: &HubSearch, rare: &[bool]) -> Sql {
    let mut sql = Sql {
        text: String::new(),
        binds: Vec::new(),
    };
    let mut conditions = vec![
        "h.state = 'listed'".to_owned(),
        "h.hidden_at is null".to_owned(),
    ];
    let unranked = "cast(null as double precision)".to_owned();
    let (from, score, lower_is_better) = if search.tokens.is_empty() {
        ("hubs h".to_owned(), unranked, true)
    } else {
        let (from, score, matches, lower) = text_match(kind, &search.tokens, &mut sql);
        conditions.push(matches);
        // Only the relevance order needs the rank: another order leaves it null rather than
        // compute it for every match before the page is cut.
        let score = if search.sort == SearchSort::Relevance {
            score
        } else {
            unranked
        };
        (from, score, lower)
    };
    // A rare tag's hubs are few: the planner looks them up and sorts them. A common tag is a
    // per-hub test, so the search walks the order's index and stops at the page's end.
    for (tag, &rare) in search.tags.iter().zip(rare) {
        let p = sql.bind(Bind::Text(tag.clone()));
        conditions.push(if rare {
            format!("h.id in (select hub_id from hub_tags where tag = {p})")
        } else {
            format!("exists (select 1 from hub_tags t where t.tag = {p} and t.hub_id = h.id)")
        });
    }
    if let Some(language) = &search.language {
        let p = sql.bind(Bind::Text(format!("%\"{language}\"%")));
        conditions.push(format!("h.languages like {p}"));
    }
    if let Some(region) = &search.region {
        let p = sql.bind(Bind::Text(region.clone()));
        conditions.push(format!("h.region = {p}"));
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
    if let Some((key, id)) = &search.after {
        conditions.push(after(&mut sql, &column, direction, *key, id));
    }
    let limit = sql.bind(Bind::Int(i64::from(search.limit)));
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

/// The keyset condition "after (key, id)" for `column` ordered `direction` with nulls last.
fn after(sql: &mut Sql, column: &str, direction: &str, key: SortKey, id: &str) -> String {
    let i = sql.bind(Bind::Text(id.to_owned()));
    let k = match key {
        SortKey::Null => return format!("({column} is null and h.id > {i})"),
        SortKey::Int(v) => sql.bind(Bind::Int(v)),
        SortKey::Float(v) => sql.bind(Bind::Float(v)),
    };
    let beyond = if direction == "asc" { ">" } else { "<" };
    format!("({column} {beyond} {k} or ({column} = {k} and h.id > {i}) or {column} is null)")
}
