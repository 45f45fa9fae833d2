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
///
/// `prefixed` (Postgres): the exact words that carry the last token as a prefix, when the store
/// found few enough of them ([`PrefixWords`]); the match then names them instead of `token:*`.
pub(super) fn text_match(
    kind: DbKind,
    tokens: &[String],
    prefixed: Option<&[String]>,
    part: TextPart,
    sql: &mut Sql,
) -> TextMatch {
    let (from, condition, score) = match kind {
        DbKind::Sqlite => fts_match(tokens, part, sql),
        DbKind::Postgres => {
            let (condition, score) = ts_match(tokens, prefixed, part, sql);
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

/// Postgres: the condition and the rank of `part` (over `hubs h`). The rank always uses the
/// tokens as typed (`token:*`), so an expanded prefix changes which index entries are read, never
/// the order.
fn ts_match(
    tokens: &[String],
    prefixed: Option<&[String]>,
    part: TextPart,
    sql: &mut Sql,
) -> (String, Option<String>) {
    let p = sql.bind(Bind::Text(ts_terms(tokens, false)));
    let q = format!("to_tsquery('simple', {p})");
    let (all, any) = match prefixed {
        Some(words) => (
            expanded(tokens, words, false, sql),
            expanded(tokens, words, true, sql),
        ),
        None => {
            let p = sql.bind(Bind::Text(ts_terms(tokens, true)));
            (q.clone(), format!("to_tsquery('simple', {p})"))
        }
    };
    let rank = |column: &str, query: &str, offset: f64| {
        format!("(cast(ts_rank(h.{column}, {query}) as double precision) + {offset:.1})")
    };
    match part {
        TextPart::Names => (
            format!("h.search_names @@ {all}"),
            Some(rank("search_names", &q, 2.0 * TIER)),
        ),
        TextPart::Partly => {
            let p = sql.bind(Bind::Text(ts_terms(tokens, true)));
            let ranked = format!("to_tsquery('simple', {p})");
            (
                format!(
                    "h.search @@ {all} and h.search_names @@ {any} \
                     and not (h.search_names @@ {all})"
                ),
                Some(rank("search_names", &ranked, TIER)),
            )
        }
        TextPart::Rest => (
            format!("h.search @@ {all} and not (h.search_names @@ {any})"),
            Some(rank("search", &q, 0.0)),
        ),
        // The planner walks the order's index for a common text, and looks a rare one up.
        TextPart::Unranked { .. } => (format!("h.search @@ {all}"), None),
    }
}

/// The `tsquery` of `tokens` whose last token is spelt as `words` (exact lexemes, `|`ed):
/// `to_tsquery` of the other tokens (ANDed, or `|`ed when `any`) joined with the quoted words.
fn expanded(tokens: &[String], words: &[String], any: bool, sql: &mut Sql) -> String {
    let quoted = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" | ");
    let last = format!("cast({} as tsquery)", sql.bind(Bind::Text(quoted)));
    let Some((_, others)) = tokens.split_last().filter(|(_, o)| !o.is_empty()) else {
        return last;
    };
    let separator = if any { " | " } else { " & " };
    let others = sql.bind(Bind::Text(others.join(separator)));
    let join = if any { "||" } else { "&&" };
    format!("(to_tsquery('simple', {others}) {join} {last})")
}

/// The words that carry a prefix, as [`expanded`] may spell them.
pub(super) struct PrefixWords;

impl PrefixWords {
    /// Most words a prefix may expand to; with more, the match keeps `token:*`.
    pub(super) const MAX: i64 = 64;
    /// The words of `search_words` with the prefix (bound as `<prefix>%`), one more than
    /// [`Self::MAX`] at most.
    pub(super) const QUERY: &'static str =
        "select word from search_words where word like $1 order by word limit $2";

    /// Whether `words` (the answer of [`Self::QUERY`]) can replace the prefix: few enough, and
    /// none needing an escape inside a quoted `tsquery` lexeme.
    pub(super) fn usable(words: &[String]) -> bool {
        !words.is_empty()
            && i64::try_from(words.len()).is_ok_and(|n| n <= Self::MAX)
            && words.iter().all(|w| !w.contains(['\'', '\\']))
    }
}
