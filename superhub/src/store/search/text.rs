//! The per-dialect text match of a search (superhub.md §5.1): FTS5 on SQLite, `tsvector` on
//! Postgres, each with a small name-and-slug index for the relevance order's first two tiers.

use shared::db::DbKind;

use super::{Bind, Sql};

/// The rank offset between tiers: a hub of tier `t` (0 first) ranks by its tier's score moved
/// by `2 - t` times this much (down for bm25, where lower is better; up for `ts_rank`), far
/// beyond any score either engine computes (bm25 stays within a few hundred for 8 tokens,
/// `ts_rank` within a few units).
const TIER: f64 = 1_000_000.0;

/// Which matches a text query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextPart {
    /// Relevance, first tier: the hubs whose name and slug hold every token, ranked by the name
    /// index.
    Names,
    /// Relevance, second tier (several tokens): the other matches whose name or slug holds some
    /// token, ranked by the name index over any token.
    Partly,
    /// Relevance, last tier: the matches whose name and slug hold no token, ranked by the full
    /// index.
    Rest,
    /// Another order: every match, unranked. `common` (SQLite): many hubs match, so the match is
    /// tested per hub along the order's index instead of driving the search.
    Unranked {
        /// Whether at least `RARE` hubs match.
        common: bool,
    },
}

/// The text match of one part.
pub(super) struct TextMatch {
    /// The from clause (`h` is the hub row).
    pub(super) from: String,
    /// The match condition.
    pub(super) condition: String,
    /// The text rank of a match (`None` when unranked).
    pub(super) score: Option<String>,
    /// Whether a lower rank is better (bm25) rather than a higher one (`ts_rank`).
    pub(super) lower_is_better: bool,
}

/// The FTS5 query of `tokens`: each double-quoted, implicitly ANDed (`OR`ed when `any`), the
/// last one a prefix.
pub(super) fn fts_phrase(tokens: &[String], any: bool) -> String {
    let separator = if any { " OR " } else { " " };
    spell(
        tokens,
        |t, last| format!("\"{t}\"{}", if last { "*" } else { "" }),
        separator,
    )
}

/// The `tsquery` of `tokens`: ANDed (`OR`ed when `any`), the last one a prefix.
fn ts_terms(tokens: &[String], any: bool) -> String {
    let separator = if any { " | " } else { " & " };
    spell(
        tokens,
        |t, last| format!("{t}{}", if last { ":*" } else { "" }),
        separator,
    )
}

/// `tokens`, each spelt by `term` (told whether it is the last), joined by `separator`.
fn spell(tokens: &[String], term: impl Fn(&str, bool) -> String, separator: &str) -> String {
    let last = tokens.len().saturating_sub(1);
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| term(t, i == last))
        .collect::<Vec<_>>()
        .join(separator)
}

/// The tier (0 first, 2 last) of the relevance key `key` (from a cursor).
pub(super) fn tier_of(kind: DbKind, key: f64) -> usize {
    let lifted = match kind {
        DbKind::Sqlite => -key,
        DbKind::Postgres => key,
    };
    if lifted >= 1.5 * TIER {
        0
    } else if lifted >= 0.5 * TIER {
        1
    } else {
        2
    }
}

/// The match of `tokens` for `part`.
pub(super) fn text_match(
    kind: DbKind,
    tokens: &[String],
    part: TextPart,
    sql: &mut Sql,
) -> TextMatch {
    let (from, condition, score) = match kind {
        DbKind::Sqlite => fts_match(tokens, part, sql),
        DbKind::Postgres => {
            let (condition, score) = ts_match(tokens, part, sql);
            ("hubs h".to_owned(), condition, score)
        }
    };
    TextMatch {
        from,
        condition,
        score,
        lower_is_better: kind == DbKind::Sqlite,
    }
}

/// SQLite: the from clause, the condition and the rank of `part`.
fn fts_match(tokens: &[String], part: TextPart, sql: &mut Sql) -> (String, String, Option<String>) {
    let p = sql.bind(Bind::Text(fts_phrase(tokens, false)));
    let full = "hubs_fts join hubs h on h.search_rowid = hubs_fts.rowid".to_owned();
    let names = "hubs_fts_names join hubs h on h.search_rowid = hubs_fts_names.rowid".to_owned();
    let named = |query: &str| {
        format!("(select rowid from hubs_fts_names where hubs_fts_names match {query})")
    };
    match part {
        TextPart::Names => (
            names,
            format!("hubs_fts_names match {p}"),
            Some(format!(
                "(bm25(hubs_fts_names, 4.0, 3.0) - {:.1})",
                2.0 * TIER
            )),
        ),
        // `+` keeps a rowid list from becoming a constraint on the outer FTS5 scan: SQLite would
        // then rerun the outer match once per listed rowid.
        TextPart::Partly => {
            let any = sql.bind(Bind::Text(fts_phrase(tokens, true)));
            (
                names,
                format!(
                    "hubs_fts_names match {any} and +hubs_fts_names.rowid in \
                     (select rowid from hubs_fts where hubs_fts match {p}) \
                     and +hubs_fts_names.rowid not in {}",
                    named(&p)
                ),
                Some(format!("(bm25(hubs_fts_names, 4.0, 3.0) - {TIER:.1})")),
            )
        }
        TextPart::Rest => {
            let any = sql.bind(Bind::Text(fts_phrase(tokens, true)));
            (
                full,
                format!(
                    "hubs_fts match {p} and +hubs_fts.rowid not in {}",
                    named(&any)
                ),
                Some("bm25(hubs_fts, 0, 4.0, 3.0, 2.0, 1.0)".to_owned()),
            )
        }
        // `+` keeps the planner from driving the search from the match list: the order's index is
        // walked and each hub looked up in the list.
        TextPart::Unranked { common: true } => (
            "hubs h".to_owned(),
            format!("+h.search_rowid in (select rowid from hubs_fts where hubs_fts match {p})"),
            None,
        ),
        TextPart::Unranked { common: false } => (full, format!("hubs_fts match {p}"), None),
    }
}

/// Postgres: the condition and the rank of `part` (over `hubs h`).
fn ts_match(tokens: &[String], part: TextPart, sql: &mut Sql) -> (String, Option<String>) {
    let p = sql.bind(Bind::Text(ts_terms(tokens, false)));
    let q = format!("to_tsquery('simple', {p})");
    let rank = |column: &str, query: &str, offset: f64| {
        format!("(cast(ts_rank(h.{column}, {query}) as double precision) + {offset:.1})")
    };
    match part {
        TextPart::Names => (
            format!("h.search_names @@ {q}"),
            Some(rank("search_names", &q, 2.0 * TIER)),
        ),
        TextPart::Partly => {
            let p = sql.bind(Bind::Text(ts_terms(tokens, true)));
            let any = format!("to_tsquery('simple', {p})");
            (
                format!(
                    "h.search @@ {q} and h.search_names @@ {any} and not (h.search_names @@ {q})"
                ),
                Some(rank("search_names", &any, TIER)),
            )
        }
        TextPart::Rest => {
            let p = sql.bind(Bind::Text(ts_terms(tokens, true)));
            (
                format!("h.search @@ {q} and not (h.search_names @@ to_tsquery('simple', {p}))"),
                Some(rank("search", &q, 0.0)),
            )
        }
        // The planner walks the order's index for a common text, and looks a rare one up.
        TextPart::Unranked { .. } => (format!("h.search @@ {q}"), None),
    }
}
