//! The per-dialect text match of a search (superhub.md §5.1): FTS5 on SQLite, `tsvector` on
//! Postgres, each with a small name-and-slug index for the relevance order's name tier.

use shared::db::DbKind;

use super::{Bind, Sql};

/// The rank offset that puts the name tier first: a hub whose name or slug holds every token
/// ranks by its name index's score moved by this much (down for bm25, where lower is better; up
/// for `ts_rank`), far beyond any score either engine computes (bm25 stays within a few hundred
/// for 8 tokens, `ts_rank` within a few units).
const NAME_TIER: f64 = 1_000_000.0;

/// Which matches a text query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextPart {
    /// Relevance, first tier: the hubs whose name or slug holds every token, ranked by the name
    /// index.
    Names,
    /// Relevance, second tier: every other match, ranked by the full index.
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

/// The FTS5 query of `tokens`: each double-quoted, implicitly ANDed, the last one a prefix.
pub(super) fn fts_phrase(tokens: &[String]) -> String {
    spell(
        tokens,
        |t, last| format!("\"{t}\"{}", if last { "*" } else { "" }),
        " ",
    )
}

/// The `tsquery` of `tokens`: ANDed, the last one a prefix.
fn ts_terms(tokens: &[String]) -> String {
    spell(
        tokens,
        |t, last| format!("{t}{}", if last { ":*" } else { "" }),
        " & ",
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

/// Whether the relevance key `key` (from a cursor) lies in the name tier.
pub(super) fn in_name_tier(kind: DbKind, key: f64) -> bool {
    match kind {
        DbKind::Sqlite => key < -NAME_TIER / 2.0,
        DbKind::Postgres => key >= NAME_TIER / 2.0,
    }
}

/// The match of `tokens` for `part`.
pub(super) fn text_match(
    kind: DbKind,
    tokens: &[String],
    part: TextPart,
    sql: &mut Sql,
) -> TextMatch {
    match kind {
        DbKind::Sqlite => {
            let p = sql.bind(Bind::Text(fts_phrase(tokens)));
            let full = "hubs_fts join hubs h on h.search_rowid = hubs_fts.rowid".to_owned();
            let (from, condition, score) = match part {
                TextPart::Names => (
                    "hubs_fts_names join hubs h on h.search_rowid = hubs_fts_names.rowid"
                        .to_owned(),
                    format!("hubs_fts_names match {p}"),
                    Some(format!("(bm25(hubs_fts_names, 4.0, 3.0) - {NAME_TIER:.1})")),
                ),
                TextPart::Rest => (
                    full,
                    format!(
                        "hubs_fts match {p} and hubs_fts.rowid not in \
                         (select rowid from hubs_fts_names where hubs_fts_names match {p})"
                    ),
                    Some("bm25(hubs_fts, 0, 4.0, 3.0, 2.0, 1.0)".to_owned()),
                ),
                // `+` keeps the planner from driving the search from the match list: the order's
                // index is walked and each hub looked up in the list.
                TextPart::Unranked { common: true } => (
                    "hubs h".to_owned(),
                    format!(
                        "+h.search_rowid in (select rowid from hubs_fts where hubs_fts match {p})"
                    ),
                    None,
                ),
                TextPart::Unranked { common: false } => (full, format!("hubs_fts match {p}"), None),
            };
            TextMatch {
                from,
                condition,
                score,
                lower_is_better: true,
            }
        }
        DbKind::Postgres => {
            let p = sql.bind(Bind::Text(ts_terms(tokens)));
            let q = format!("to_tsquery('simple', {p})");
            let (condition, score) = match part {
                TextPart::Names => (
                    format!("h.search_names @@ {q}"),
                    Some(format!(
                        "(cast(ts_rank(h.search_names, {q}) as double precision) + {NAME_TIER:.1})"
                    )),
                ),
                TextPart::Rest => (
                    format!("h.search @@ {q} and not (h.search_names @@ {q})"),
                    Some(format!("cast(ts_rank(h.search, {q}) as double precision)")),
                ),
                // The planner walks the order's index for a common text, and looks a rare one up.
                TextPart::Unranked { .. } => (format!("h.search @@ {q}"), None),
            };
            TextMatch {
                from: "hubs h".to_owned(),
                condition,
                score,
                lower_is_better: false,
            }
        }
    }
}
