//! Counted nouns for people: "1 rating", "2 ratings", "86,537 movies". One helper, so the
//! window and the command line never print "1 ratings".

/// `86537` → `86,537`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `n` in at most four characters, for a chip: `999`, `4.4k`, `44k`, `440k`, `4.4M`, `44M`.
pub fn compact(n: u64) -> String {
    let short = |unit: f64, suffix: &str| {
        let x = n as f64 / unit;
        if x < 9.95 {
            format!("{x:.1}{suffix}")
        } else {
            format!("{x:.0}{suffix}")
        }
    };
    match n {
        0..1_000 => n.to_string(),
        1_000..999_500 => short(1e3, "k"),
        _ => short(1e6, "M"),
    }
}

/// `one` when `n` is exactly 1, else `many` (English: zero takes the plural, "0 ratings").
pub fn noun<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `n` with thousands separators and the right form of the noun: `count(1, "rating",
/// "ratings")` is `1 rating`, `count(12_345, …)` is `12,345 ratings`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), noun(n, one, many))
}

#[cfg(test)]
mod tests {
    use super::{compact, count, noun};

    #[test]
    fn compact_figures_fit_a_chip() {
        assert_eq!(compact(0), "0");
        assert_eq!(compact(999), "999");
        assert_eq!(compact(1_000), "1.0k");
        assert_eq!(compact(4_361), "4.4k");
        assert_eq!(compact(9_960), "10k");
        assert_eq!(compact(43_612), "44k");
        assert_eq!(compact(999_400), "999k");
        assert_eq!(compact(999_600), "1.0M");
        assert_eq!(compact(12_345_678), "12M");
    }

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(count(0, "rating", "ratings"), "0 ratings");
        assert_eq!(count(1, "rating", "ratings"), "1 rating");
        assert_eq!(count(2, "rating", "ratings"), "2 ratings");
        assert_eq!(count(86_537, "movie", "movies"), "86,537 movies");
        assert_eq!(noun(1, "query", "queries"), "query");
        assert_eq!(noun(11, "query", "queries"), "queries");
    }
}
