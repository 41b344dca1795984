//! Completion for the filter language while it is typed: token names, genre names, sort columns,
//! and tags (which come from the database). Pure text in, suggestions out, so the filter bar only
//! draws them and the rules are pinned by unit tests. The help text lists every token with an
//! example, from the same table the README shows.

use crate::filter::{FILTER_KEYS, SortColumn};

/// Every token of the filter language with an example and what it means (the "?" help).
pub const TOKEN_HELP: &[(&str, &str)] = &[
    (
        "star wars",
        "title contains these words (quotes keep spaces: title:\"star wars\")",
    ),
    ("genre:Sci-Fi,Action", "any of these genres"),
    ("genre-all:Drama,War", "all of these genres"),
    ("genre-not:Horror", "none of these genres"),
    (
        "year:1977..1983",
        "release year: 1995, 1990..1999, >=1990, ..1960",
    ),
    ("rating:>=4", "average rating (0.5–5): >=4, 3..4.5"),
    ("votes:>=100", "at least this many ratings"),
    ("tag:pixar", "has this tag"),
    (
        "sort:-rating,title",
        "sort keys; - = descending; ties end in id",
    ),
];

/// What the word under the cursor can become.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Byte offset in the text where the word being completed starts.
    pub start: usize,
    /// What kind of word it is.
    pub kind: CompletionKind,
    /// The part already typed (after `key:` or a comma for values).
    pub typed: String,
    /// Candidates, best first; each replaces `text[start..]`.
    pub candidates: Vec<String>,
}

/// The kind of word being completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    /// A token name (`genre:`).
    Key,
    /// A genre after `genre:`, `genre-all:` or `genre-not:`.
    Genre,
    /// A tag after `tag:`: candidates come from the database.
    Tag,
    /// A sort column after `sort:`.
    Sort,
}

/// At most this many candidates are offered.
pub const MAX_CANDIDATES: usize = 8;

/// Suggestions for the end of `text` (where typing happens). `genres` are the known genre
/// names, `tags` the database's answer for the tag being typed (may be empty). `None` when
/// there is nothing to suggest, or when the word is already complete.
pub fn complete(text: &str, genres: &[&str], tags: &[String]) -> Option<Completion> {
    // The word under the cursor: after the last space outside quotes.
    let mut in_quotes = false;
    let mut word_start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => word_start = i + c.len_utf8(),
            _ => {}
        }
    }
    if in_quotes {
        return None;
    }
    let word = &text[word_start..];
    let Some((key, value)) = word.split_once(':') else {
        // A key being typed: offer the keys that start with it (not for an empty word, and not
        // for plain title words that match no key).
        if word.is_empty() {
            return None;
        }
        let lower = word.to_lowercase();
        let candidates: Vec<String> = FILTER_KEYS
            .iter()
            .filter(|k| k.starts_with(&lower) && **k != lower)
            .map(|k| format!("{k}:"))
            .take(MAX_CANDIDATES)
            .collect();
        return (!candidates.is_empty()).then(|| Completion {
            start: word_start,
            kind: CompletionKind::Key,
            typed: word.to_owned(),
            candidates,
        });
    };
    // Values: complete the last item of a comma list.
    let item_start = word_start + key.len() + 1 + value.rfind(',').map_or(0, |i| i + 1);
    let typed = &text[item_start..];
    let lower = typed.trim_start_matches('-').to_lowercase();
    let (kind, pool): (CompletionKind, Vec<String>) = match key.to_lowercase().as_str() {
        "genre" | "genre-all" | "genre-not" => (
            CompletionKind::Genre,
            genres.iter().map(|g| (*g).to_owned()).collect(),
        ),
        "tag" => (CompletionKind::Tag, tags.to_vec()),
        "sort" => {
            let descending = typed.starts_with('-');
            (
                CompletionKind::Sort,
                SortColumn::ALL
                    .iter()
                    .map(|c| format!("{}{}", if descending { "-" } else { "" }, c.name()))
                    .collect(),
            )
        }
        _ => return None,
    };
    let matches = |candidate: &str| {
        let c = candidate.trim_start_matches('-').to_lowercase();
        c.starts_with(&lower) && c != lower
    };
    let mut candidates: Vec<String> = pool.iter().filter(|c| matches(c)).cloned().collect();
    if kind == CompletionKind::Tag {
        // The database matched anywhere in the tag; prefixes first, then the rest.
        let rest = pool
            .iter()
            .filter(|c| {
                let c = c.to_lowercase();
                !c.starts_with(&lower) && c.contains(&lower)
            })
            .cloned();
        candidates.extend(rest);
    }
    // A value with a space needs quotes to survive the parser.
    let candidates: Vec<String> = candidates
        .into_iter()
        .map(|c| {
            if c.contains(char::is_whitespace) {
                format!("\"{c}\"")
            } else {
                c
            }
        })
        .take(MAX_CANDIDATES)
        .collect();
    (!candidates.is_empty()).then(|| Completion {
        start: item_start,
        kind,
        typed: typed.to_owned(),
        candidates,
    })
}

/// The text with the completed word replaced by `candidate`.
pub fn apply(text: &str, completion: &Completion, candidate: &str) -> String {
    format!("{}{candidate}", &text[..completion.start])
}

/// The tag being typed after `tag:` at the end of `text`, for asking the database.
pub fn tag_being_typed(text: &str) -> Option<&str> {
    let word = text.rsplit(char::is_whitespace).next()?;
    let value = word
        .strip_prefix("tag:")
        .or_else(|| word.strip_prefix("TAG:"))?;
    Some(value.rsplit(',').next().unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Filter, KNOWN_GENRES};

    fn candidates(text: &str) -> Vec<String> {
        complete(text, KNOWN_GENRES, &[]).map_or_else(Vec::new, |c| c.candidates)
    }

    #[test]
    fn keys_complete_from_their_first_letters() {
        assert_eq!(candidates("gen"), ["genre:", "genre-all:", "genre-not:"]);
        assert_eq!(candidates("drama so"), ["sort:"]);
        assert_eq!(candidates("Ra"), ["rating:"]);
        assert!(candidates("").is_empty());
        assert!(
            candidates("star wars").is_empty(),
            "title words match no key"
        );
    }

    #[test]
    fn genres_complete_after_any_genre_key_and_after_a_comma() {
        assert_eq!(candidates("genre:Dr"), ["Drama"]);
        assert_eq!(candidates("genre-not:ho"), ["Horror"]);
        assert_eq!(
            candidates("year:1990 genre-all:Drama,W"),
            ["War", "Western"]
        );
        assert!(
            candidates("genre:Drama").is_empty(),
            "a complete word needs nothing"
        );
    }

    #[test]
    fn sort_columns_keep_the_descending_mark() {
        assert_eq!(candidates("sort:-ra"), ["-rating"]);
        assert_eq!(candidates("sort:title,y"), ["year"]);
    }

    #[test]
    fn tags_come_from_the_database_prefixes_first_and_quoted_when_spaced() {
        let tags = vec![
            "visually appealing".to_owned(),
            "pixar".to_owned(),
            "not pixar".to_owned(),
        ];
        let c = complete("genre:Animation tag:pix", KNOWN_GENRES, &tags).expect("tags");
        assert_eq!(c.kind, CompletionKind::Tag);
        assert_eq!(c.candidates, ["pixar", "\"not pixar\""]);
        assert_eq!(tag_being_typed("genre:Animation tag:pix"), Some("pix"));
        assert_eq!(tag_being_typed("genre:Animation"), None);
    }

    #[test]
    fn applying_a_candidate_gives_text_that_parses() {
        for (text, genres) in [("genre:Dr", "Drama"), ("year:1990 genre:Sci", "Sci-Fi")] {
            let c = complete(text, KNOWN_GENRES, &[]).expect("a completion");
            let done = apply(text, &c, &c.candidates[0]);
            let filter = Filter::parse(&done).expect("completed text parses");
            assert_eq!(filter.genres.any_of, [genres]);
        }
        let c = complete("tag:not", KNOWN_GENRES, &["not pixar".to_owned()]).expect("tag");
        let done = apply("tag:not", &c, &c.candidates[0]);
        assert_eq!(Filter::parse(&done).expect("parses").tags, ["not pixar"]);
        assert!(
            complete("title:\"star wa", KNOWN_GENRES, &[]).is_none(),
            "inside quotes"
        );
    }
}
