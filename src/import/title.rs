//! MovieLens title and genre conventions: the year in trailing parentheses and `|`-separated genres.
//!
//! MovieLens keeps the release year inside the title (`Toy Story (1995)`) and
//! lists genres as one `|`-separated field. These helpers pull the structured
//! values out without ever rewriting the title itself, which is stored as given.

/// Years outside this range are treated as "not a year" (e.g. `Station (0001)`).
const YEAR_RANGE: std::ops::RangeInclusive<i16> = 1800..=2200;

/// The placeholder MovieLens uses for a movie without genres.
pub const NO_GENRES: &str = "(no genres listed)";

/// Returns the release year from the last parenthesized group at the end of a
/// MovieLens title.
///
/// Accepts `(1995)` and year ranges of series such as `(1975-1979)`,
/// `(1975–1979)` or an open `(2007-)`, taking the first year. Anything else in
/// the last parentheses (an alternative title, `a.k.a.` notes) means there is
/// no year, because MovieLens then simply has none.
pub fn parse_year(title: &str) -> Option<i16> {
    let trimmed = title.trim();
    let inner = trimmed.strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let group = inner[open + 1..].trim();
    let digits = group.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = group[4..].trim_start();
    if !rest.is_empty() {
        let after_dash = rest
            .strip_prefix('-')
            .or_else(|| rest.strip_prefix('–'))?
            .trim();
        let is_end_year = after_dash.len() == 4 && after_dash.bytes().all(|b| b.is_ascii_digit());
        if !after_dash.is_empty() && !is_end_year {
            return None;
        }
    }
    let year: i16 = digits.parse().ok()?;
    YEAR_RANGE.contains(&year).then_some(year)
}

/// Splits a MovieLens genres field into names.
///
/// `(no genres listed)` and empty parts give nothing; names are trimmed,
/// kept in the given spelling, and repeated names are dropped (first one wins)
/// so a `(movie, genre)` key stays unique in the database.
pub fn parse_genres(field: &str) -> Vec<String> {
    let mut genres: Vec<String> = Vec::new();
    for part in field.split('|') {
        let name = part.trim();
        if name.is_empty() || name == NO_GENRES {
            continue;
        }
        if !genres.iter().any(|known| known == name) {
            genres.push(name.to_owned());
        }
    }
    genres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_from_plain_titles() {
        assert_eq!(parse_year("Toy Story (1995)"), Some(1995));
        assert_eq!(parse_year("Ready Player One (2018)"), Some(2018));
        assert_eq!(parse_year("1984 (1984)"), Some(1984));
        assert_eq!(parse_year("(1995)"), Some(1995));
    }

    #[test]
    fn year_is_the_last_group() {
        assert_eq!(
            parse_year("City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
            Some(1995)
        );
        assert_eq!(parse_year("Blade Runner 2049 (2017)"), Some(2017));
        assert_eq!(parse_year("2001: A Space Odyssey (1968)"), Some(1968));
        assert_eq!(parse_year("Movie (1990) (Director's Cut)"), None);
    }

    #[test]
    fn no_year() {
        assert_eq!(parse_year("Babylon 5"), None);
        assert_eq!(parse_year("Hyena Road"), None);
        assert_eq!(parse_year(""), None);
        assert_eq!(parse_year("   "), None);
        assert_eq!(
            parse_year("Spirited Away (Sen to Chihiro no kamikakushi)"),
            None
        );
        assert_eq!(parse_year("Station (19955)"), None);
        assert_eq!(parse_year("Station (95)"), None);
        assert_eq!(parse_year("Station 1995)"), None);
        assert_eq!(parse_year("Station (199a)"), None);
        assert_eq!(parse_year("Something (1995 remake)"), None);
        assert_eq!(parse_year("Unicode (١٩٩٥)"), None);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(parse_year("Paterson (2016) "), Some(2016));
        assert_eq!(parse_year(" Paterson ( 2016 )\t"), Some(2016));
    }

    #[test]
    fn year_ranges_give_the_first_year() {
        assert_eq!(parse_year("Fawlty Towers (1975-1979)"), Some(1975));
        assert_eq!(parse_year("Fawlty Towers (1975–1979)"), Some(1975));
        assert_eq!(parse_year("Fawlty Towers (1975 - 1979)"), Some(1975));
        assert_eq!(parse_year("Open Series (2007-)"), Some(2007));
        assert_eq!(parse_year("Odd (1975-79)"), None);
        assert_eq!(parse_year("Odd (1975/1979)"), None);
    }

    #[test]
    fn implausible_years_are_rejected() {
        assert_eq!(parse_year("Old (1799)"), None);
        assert_eq!(parse_year("Oldest allowed (1800)"), Some(1800));
        assert_eq!(parse_year("Latest allowed (2200)"), Some(2200));
        assert_eq!(parse_year("Future (2201)"), None);
        assert_eq!(parse_year("Zero (0000)"), None);
        assert_eq!(parse_year("Big (9999)"), None);
    }

    #[test]
    fn genres_split_on_pipes() {
        assert_eq!(
            parse_genres("Adventure|Animation|Children|Comedy|Fantasy"),
            ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
        );
        assert_eq!(parse_genres("Drama"), ["Drama"]);
        assert_eq!(parse_genres("Film-Noir|Sci-Fi"), ["Film-Noir", "Sci-Fi"]);
    }

    #[test]
    fn no_genres_listed_is_empty() {
        assert!(parse_genres("(no genres listed)").is_empty());
        assert!(parse_genres(" (no genres listed) ").is_empty());
        assert!(parse_genres("").is_empty());
        assert!(parse_genres("|| |").is_empty());
    }

    #[test]
    fn genres_are_trimmed_deduplicated_and_keep_spelling() {
        assert_eq!(
            parse_genres(" Drama | comedy|Drama||Comedy |comedy"),
            ["Drama", "comedy", "Comedy"]
        );
        assert_eq!(parse_genres("Sci-Fi|(no genres listed)"), ["Sci-Fi"]);
    }
}
