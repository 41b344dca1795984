//! A deterministic, realistic generated movie collection of any size, for demos, tests and load tests.
//!
//! Everything is derived from `(seed, id)` with a counter-based hash, so each
//! iterator can be run alone, in any order, on any platform, and gives the
//! same rows every time. Only integer arithmetic is used (no `powf`/`ln`,
//! whose last bits differ between platforms), and nothing grows with the size
//! of the collection: ten million movies and a hundred million ratings stream
//! in constant memory.
//!
//! The shape follows MovieLens: titles in MovieLens form (`Garden, The (1994)`,
//! alternative titles in extra parentheses, some non-ASCII), years skewed to
//! recent decades, MovieLens genre frequencies, long-tailed popularity (a few
//! movies with thousands of ratings, many with a handful, some with none),
//! long-tailed user activity, half-star ratings averaging about 3.5.
//!
//! How ratings stay exact and unique without a set in memory:
//! - Each movie gets an integer popularity weight `w`. A first pass sums the
//!   weights (`W`); movie `i` then gets `floor(R·C_i/W) − floor(R·C_{i−1}/W)`
//!   ratings, where `C_i` is the running sum of weights. The sum telescopes to
//!   exactly `R`. When the most popular movies would need more ratings than
//!   half the users, weights get a soft cap (estimated from a histogram of the
//!   weights, confirmed by an exact pass), so every share fits.
//! - A movie with `k` ratings picks its users as `k` consecutive steps of an
//!   affine walk `p, p+s, p+2s, … (mod M)` with `gcd(s, M) = 1` over a window
//!   of `M ≥ k` user ranks, which never repeats a rank; ranks map to user ids
//!   through a fixed bijection. Small windows favour low ranks, which makes
//!   those users the heavy raters; a share of movies uses the whole range, so
//!   every user rates something.
//!
//! Tags are split over movies the same way (a quarter as many tags as movies,
//! at most one of each tag per movie).

use super::records::{MovieRecord, RatingRecord, TagRecord};

/// Movies in the default sample: as many as the full MovieLens "latest" set.
pub const DEFAULT_MOVIES: u32 = 86_537;
/// Ratings in the default sample: enough for realistic averages, quick to load.
pub const DEFAULT_RATINGS: u64 = 1_000_000;
/// Seed of the default sample.
pub const DEFAULT_SEED: u64 = 1;
/// Changes whenever the generator's output changes for the same spec, so caches of generated
/// databases (test templates, benchmark databases) know to rebuild.
pub const GENERATOR_VERSION: u32 = 2;

/// Average ratings per user; MovieLens has roughly 150.
const RATINGS_PER_USER: u64 = 150;

/// Upper bound on the ratings actually generated; far beyond anything that
/// can be generated in practice, it keeps the exact-split arithmetic in `u128`.
const MAX_TOTAL: u64 = 1 << 50;

/// Popularity weights are fixed point with 16 fractional bits, capped so the
/// running sum times the total fits in `u128`.
const WEIGHT_ONE: u64 = 1 << 16;
const MAX_WEIGHT: u64 = 1 << 40;

/// Share (per mille) of obscure movies whose popularity is cut sixteenfold;
/// with the long tail this leaves roughly 10–20% of movies without ratings.
const OBSCURE_PER_MILLE: u64 = 70;

const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_YEAR: i64 = 365 * SECS_PER_DAY;
/// 1996-01-01T00:00:00Z, when MovieLens started collecting ratings.
const FIRST_RATING_SECS: i64 = 820_454_400;
/// 2006-01-01T00:00:00Z, when MovieLens introduced tags.
const FIRST_TAG_SECS: i64 = 1_136_073_600;
/// 2023-12-31T23:59:59Z, the last moment of generated activity.
const LAST_SECS: i64 = 1_704_067_199;

/// The size and seed of a generated collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SampleSpec {
    /// Movies, with ids `1..=movies` (at most `i32::MAX`).
    pub movies: u32,
    /// Requested ratings; see [`SampleSpec::rating_count`] for the exact number produced.
    pub ratings: u64,
    /// Same seed, same collection.
    pub seed: u64,
}

impl Default for SampleSpec {
    fn default() -> Self {
        Self {
            movies: DEFAULT_MOVIES,
            ratings: DEFAULT_RATINGS,
            seed: DEFAULT_SEED,
        }
    }
}

impl SampleSpec {
    /// Number of movies generated (`movies`, limited to `i32::MAX` ids).
    pub fn movie_count(&self) -> u32 {
        self.movies.min(i32::MAX as u32)
    }

    /// Users have ids `1..=user_count()`: about one per 150 ratings, and always
    /// enough that every movie can get its share of distinct users.
    pub fn user_count(&self) -> u32 {
        let movies = u64::from(self.movie_count().max(1));
        let by_activity = self.ratings.div_ceil(RATINGS_PER_USER);
        let by_capacity = self.ratings.div_ceil(movies) + 1;
        let users = by_activity.max(by_capacity).max(1);
        users.min(i32::MAX as u64) as u32
    }

    /// Ratings produced by [`SampleSpec::ratings`]: exactly `ratings`, unless
    /// that exceeds what distinct `(user, movie)` pairs allow (only with
    /// `movies == 0` or more than ~2³¹ ratings per movie) or 2⁵⁰.
    pub fn rating_count(&self) -> u64 {
        let movies = u64::from(self.movie_count());
        let users = u64::from(self.user_count());
        self.ratings
            .min(movies.saturating_mul(users - 1))
            .min(MAX_TOTAL)
    }

    /// Tags produced by [`SampleSpec::tags`]: a quarter of the movie count (rounded).
    pub fn tag_count(&self) -> u64 {
        (u64::from(self.movie_count()) + 2) / 4
    }

    /// Movies `1..=movies` in id order.
    pub fn movies(&self) -> impl Iterator<Item = MovieRecord> + use<> {
        let keys = Keys::new(self.seed);
        (1..=self.movie_count()).map(move |id| generate_movie(&keys, id))
    }

    /// Exactly [`SampleSpec::rating_count`] ratings, grouped by movie (movie
    /// 1's first), each `(user, movie)` pair once. Creating the iterator makes
    /// one to three quick passes over the movie weights (about 35 ns a movie).
    pub fn ratings(&self) -> impl Iterator<Item = RatingRecord> + use<> {
        Ratings::new(self)
    }

    /// Tags grouped by movie, concentrated on popular movies; each
    /// `(user, movie, tag)` once and never the same tag twice on a movie.
    pub fn tags(&self) -> impl Iterator<Item = TagRecord> + use<> {
        Tags::new(self)
    }
}

// ---------------------------------------------------------------------------
// Randomness: SplitMix64, used both as a hash of (key, id) and as a stream.

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `n`-th output of the SplitMix64 stream keyed by `key`: a good hash of `n`.
fn hash(key: u64, n: u64) -> u64 {
    mix64(key.wrapping_add(n.wrapping_mul(GOLDEN)))
}

#[derive(Debug, Clone)]
struct SplitMix {
    state: u64,
}

impl SplitMix {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is far below noticeable).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.abs_diff(lo) + 1;
        lo + self.below(span) as i64
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks an item from `(item, weight)` pairs.
    fn pick_weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut ticket = self.below(total);
        for &(item, weight) in items {
            let weight = u64::from(weight);
            if ticket < weight {
                return item;
            }
            ticket -= weight;
        }
        items[items.len() - 1].0
    }

    /// `v³` for `v` uniform in [0, 1), as a fraction of 2³²: skews towards 0.
    fn cubed_fraction(&mut self) -> u64 {
        let v = self.next_u64() >> 32;
        (((v * v) >> 32) * v) >> 32
    }

    /// Roughly normal with mean 0 and the given standard deviation (sum of four uniforms).
    fn normalish(&mut self, sd: i64) -> i64 {
        let bits = self.next_u64();
        let sum: i64 = (0..4).map(|i| ((bits >> (16 * i)) & 0xffff) as i64).sum();
        // The sum of four uniforms on [0, 65536) has mean 131072 and sd 65536/√3.
        (sum - 131_072) * sd * 1732 / (65_536 * 1000)
    }
}

/// Independent hash keys for each aspect of the collection, so that e.g.
/// ratings can compute a movie's year without generating its title.
#[derive(Debug, Clone, Copy)]
struct Keys {
    year: u64,
    title: u64,
    genres: u64,
    links: u64,
    popularity: u64,
    quality: u64,
    ratings: u64,
    users: u64,
    tags: u64,
}

impl Keys {
    fn new(seed: u64) -> Self {
        let key = |stream: u64| mix64(seed ^ mix64(stream.wrapping_mul(GOLDEN)));
        Self {
            year: key(1),
            title: key(2),
            genres: key(3),
            links: key(4),
            popularity: key(5),
            quality: key(6),
            ratings: key(7),
            users: key(8),
            tags: key(9),
        }
    }
}

// ---------------------------------------------------------------------------
// Movies.

/// Fixed titles at their real MovieLens ids, so a demo search for
/// "Star Wars" finds the saga where people expect it.
struct Special {
    id: u32,
    title: &'static str,
    year: i16,
    imdb_id: i32,
    tmdb_id: i32,
    /// Popularity in units of the average movie.
    popularity: u64,
}

const SPECIALS: [Special; 7] = [
    Special {
        id: 260,
        title: "Star Wars: Episode IV - A New Hope (1977)",
        year: 1977,
        imdb_id: 76_759,
        tmdb_id: 11,
        popularity: 120,
    },
    Special {
        id: 1196,
        title: "Star Wars: Episode V - The Empire Strikes Back (1980)",
        year: 1980,
        imdb_id: 80_684,
        tmdb_id: 1891,
        popularity: 110,
    },
    Special {
        id: 1210,
        title: "Star Wars: Episode VI - Return of the Jedi (1983)",
        year: 1983,
        imdb_id: 86_190,
        tmdb_id: 1892,
        popularity: 100,
    },
    Special {
        id: 2628,
        title: "Star Wars: Episode I - The Phantom Menace (1999)",
        year: 1999,
        imdb_id: 120_915,
        tmdb_id: 1893,
        popularity: 70,
    },
    Special {
        id: 5378,
        title: "Star Wars: Episode II - Attack of the Clones (2002)",
        year: 2002,
        imdb_id: 121_765,
        tmdb_id: 1894,
        popularity: 60,
    },
    Special {
        id: 33_493,
        title: "Star Wars: Episode III - Revenge of the Sith (2005)",
        year: 2005,
        imdb_id: 121_766,
        tmdb_id: 1895,
        popularity: 65,
    },
    Special {
        id: 122_886,
        title: "Star Wars: Episode VII - The Force Awakens (2015)",
        year: 2015,
        imdb_id: 2_488_496,
        tmdb_id: 140_607,
        popularity: 80,
    },
];

fn special(id: u32) -> Option<&'static Special> {
    SPECIALS.iter().find(|s| s.id == id)
}

fn generate_movie(keys: &Keys, id: u32) -> MovieRecord {
    let movie_id = id as i32;
    if let Some(s) = special(id) {
        return MovieRecord {
            id: movie_id,
            title: s.title.to_owned(),
            year: Some(s.year),
            genres: ["Action", "Adventure", "Sci-Fi"].map(String::from).to_vec(),
            imdb_id: Some(s.imdb_id),
            tmdb_id: Some(s.tmdb_id),
        };
    }
    let year = movie_year(keys, id);
    let mut rng = SplitMix::new(hash(keys.title, u64::from(id)));
    let mut title = title_text(&mut rng);
    if let Some(year) = year {
        // A few TV series with a year range, as in MovieLens.
        if year <= 2015 && rng.chance(3) {
            let end = i64::from(year) + rng.between(1, 8);
            title.push_str(&format!(" ({year}-{end})"));
        } else {
            title.push_str(&format!(" ({year})"));
        }
    }
    let (imdb_id, tmdb_id) = external_ids(keys, id, year);
    MovieRecord {
        id: movie_id,
        title,
        year,
        genres: genres(keys, id),
        imdb_id,
        tmdb_id,
    }
}

/// The release year: ~1% none, most after 1990, the rest back to 1900.
fn movie_year(keys: &Keys, id: u32) -> Option<i16> {
    if let Some(s) = special(id) {
        return Some(s.year);
    }
    let mut rng = SplitMix::new(hash(keys.year, u64::from(id)));
    if rng.chance(10) {
        return None;
    }
    if rng.chance(80) {
        return Some(2019 + rng.below(5) as i16);
    }
    // 2018 − 119·v³: dense near 2018, thinning out towards 1900.
    let back = (119 * rng.cubed_fraction()) >> 32;
    Some(2018 - back as i16)
}

/// Seconds at 00:00 UTC on 1 January of `year` (proleptic Gregorian).
fn year_start_secs(year: i16) -> i64 {
    let y = i64::from(year) - 1;
    let days = 365 * y + y / 4 - y / 100 + y / 400 - 719_162;
    days * SECS_PER_DAY
}

/// The earliest moment a movie can be rated or tagged: its release year, or
/// the start of MovieLens for old movies and those without a year.
fn release_secs(keys: &Keys, id: u32) -> i64 {
    movie_year(keys, id).map_or(FIRST_RATING_SECS, year_start_secs)
}

fn external_ids(keys: &Keys, id: u32, year: Option<i16>) -> (Option<i32>, Option<i32>) {
    let mut rng = SplitMix::new(hash(keys.links, u64::from(id)));
    // IMDb numbers grow with time: ~100000 in 1995, millions after 2010.
    const IMDB_BY_YEAR: [(i64, i64); 8] = [
        (1900, 1_000),
        (1950, 40_000),
        (1990, 95_000),
        (2000, 200_000),
        (2010, 1_200_000),
        (2015, 3_000_000),
        (2020, 8_000_000),
        (2024, 15_000_000),
    ];
    let y = year.map_or(2020, i64::from);
    let base = IMDB_BY_YEAR
        .windows(2)
        .find(|w| y < w[1].0)
        .map_or(15_000_000, |w| {
            let ((y0, v0), (y1, v1)) = (w[0], w[1]);
            v0 + (v1 - v0) * (y - y0) / (y1 - y0)
        });
    let imdb = base + rng.below((base / 5 + 1000) as u64) as i64;
    let tmdb_limit: u64 = match y {
        ..2000 => 150_000,
        2000..2015 => 450_000,
        _ => 1_200_000,
    };
    let tmdb = 1 + rng.below(tmdb_limit) as i64;
    let imdb_id = (!rng.chance(3)).then_some(imdb as i32);
    let tmdb_id = (!rng.chance(15)).then_some(tmdb as i32);
    (imdb_id, tmdb_id)
}

/// The 19 MovieLens genres (alphabetical, as MovieLens lists them) with
/// weights giving MovieLens-like frequencies.
const GENRES: [(&str, u32); 19] = [
    ("Action", 95),
    ("Adventure", 55),
    ("Animation", 35),
    ("Children", 35),
    ("Comedy", 230),
    ("Crime", 75),
    ("Documentary", 110),
    ("Drama", 330),
    ("Fantasy", 35),
    ("Film-Noir", 0),
    ("Horror", 70),
    ("IMAX", 2),
    ("Musical", 12),
    ("Mystery", 35),
    ("Romance", 100),
    ("Sci-Fi", 45),
    ("Thriller", 110),
    ("War", 20),
    ("Western", 15),
];

const ANIMATION: usize = 2;
const CHILDREN: usize = 3;
const CRIME: usize = 5;
const DOCUMENTARY: usize = 6;
const FILM_NOIR: usize = 9;
const IMAX: usize = 11;
const MYSTERY: usize = 13;

/// 1–4 genres (about 2% none), in MovieLens's alphabetical order.
fn genres(keys: &Keys, id: u32) -> Vec<String> {
    let mut rng = SplitMix::new(hash(keys.genres, u64::from(id)));
    if rng.chance(20) {
        return Vec::new();
    }
    const INDEXED: [(usize, u32); 19] = {
        let mut table = [(0, 0); 19];
        let mut i = 0;
        while i < 19 {
            table[i] = (i, GENRES[i].1);
            i += 1;
        }
        table
    };
    let wanted = rng.pick_weighted(&[(1u32, 42), (2, 33), (3, 17), (4, 8)]);
    let mut chosen = [false; 19];
    let first = rng.pick_weighted(&INDEXED);
    chosen[first] = true;
    // Documentaries rarely carry other genres.
    let wanted = if first == DOCUMENTARY && !rng.chance(200) {
        1
    } else {
        wanted
    };
    let mut count = 1;
    let mut attempts = 0;
    while count < wanted && attempts < 32 {
        attempts += 1;
        let g = rng.pick_weighted(&INDEXED);
        if !chosen[g] && g != DOCUMENTARY {
            chosen[g] = true;
            count += 1;
        }
    }
    if chosen[ANIMATION] && rng.chance(500) {
        chosen[CHILDREN] = true;
    }
    // Film-Noir belongs to the 1940s and 50s; IMAX releases are recent.
    let year = movie_year(keys, id).unwrap_or(2020);
    if (1940..=1959).contains(&year) && !chosen[DOCUMENTARY] && rng.chance(80) {
        chosen[FILM_NOIR] = true;
        chosen[if rng.chance(500) { CRIME } else { MYSTERY }] = true;
    }
    if year < 1995 {
        chosen[IMAX] = false;
    }
    if !chosen.contains(&true) {
        chosen[first] = true;
    }
    GENRES
        .iter()
        .zip(chosen)
        .filter(|&(_, on)| on)
        .map(|((name, _), _)| (*name).to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Titles.

#[rustfmt::skip]
const ADJECTIVES: &[&str] = &[
    "Last", "Lost", "Dark", "Silent", "Broken", "Hidden", "Golden", "Secret", "Final", "Eternal",
    "Forgotten", "Crimson", "Iron", "Wild", "Little", "Big", "Long", "Cold", "Burning", "Endless",
    "Savage", "Sweet", "Bitter", "Deadly", "Perfect", "Strange", "Invisible", "Electric", "Red",
    "Blue", "Black", "White", "Green", "Frozen", "Fallen", "Rising", "Shattered", "Wicked",
    "Lonely", "Happy", "Crazy", "Fast", "Naked", "Holy", "Royal", "Brave", "Quiet", "Blind",
    "Lucky", "Midnight", "Silver", "Scarlet", "Velvet", "Hollow", "Empty", "Restless", "Reckless",
    "Dangerous", "Beautiful", "Innocent", "Guilty", "Young", "Old", "New", "Grand", "Great",
    "Small", "Bright", "Distant", "Northern", "Southern", "Eastern", "Western", "Wandering",
    "Sleeping", "Dying", "Living", "Dead", "Mad", "Bad", "Good", "True", "False", "Second", "First",
    "Magnificent", "Fearless", "Haunted", "Secretive", "Stolen", "Borrowed", "Painted", "Paper",
    "Glass", "Stone", "Steel", "Neon", "Atomic", "Cosmic", "Infinite", "Invincible", "Impossible",
    "Unbreakable", "Untamed", "Unknown", "Nameless", "Shadow", "Thunder", "Winter", "Summer",
    "Autumn", "Desert", "Ocean", "Mountain", "Jungle", "Urban", "Suburban", "Tender", "Fierce",
    "Gentle", "Proud", "Ordinary", "Extraordinary", "Wonderful", "Terrible", "Blood",
];

#[rustfmt::skip]
const NOUNS: &[&str] = &[
    "Garden", "Wolf", "River", "Night", "Road", "House", "City", "Star", "War", "Heart", "Dream",
    "Shadow", "King", "Queen", "Island", "Storm", "Fire", "Sky", "Sea", "Moon", "Sun", "Game",
    "Hunter", "Empire", "Kingdom", "Mountain", "Valley", "Bridge", "Train", "Station", "Letter",
    "Promise", "Mirror", "Door", "Window", "Child", "Soldier", "Stranger", "Ghost", "Angel",
    "Devil", "Dragon", "Tiger", "Horse", "Bird", "Planet", "Machine", "Code", "Affair", "Story",
    "Summer", "Winter", "Journey", "Voyage", "Escape", "Return", "Revenge", "Legacy", "Heist",
    "Job", "Party", "Wedding", "Funeral", "Family", "Brothers", "Sisters", "Daughter", "Son",
    "Father", "Mother", "Man", "Woman", "Girl", "Boy", "Detective", "Doctor", "Warrior", "Knight",
    "Pirate", "Samurai", "Cowboy", "Outlaw", "Spy", "Agent", "Thief", "Killer", "Witness", "Lawyer",
    "Teacher", "Priest", "Prince", "Princess", "Emperor", "Witch", "Vampire", "Zombie", "Monster",
    "Robot", "Alien", "Invasion", "Frontier", "Border", "Harbor", "Lighthouse", "Castle", "Tower",
    "Palace", "Hotel", "Motel", "Diner", "Casino", "Circus", "Carnival", "Theater", "Orchestra",
    "Symphony", "Song", "Dance", "Tango", "Waltz", "Blues", "Jazz", "Rhapsody", "Silence", "Echo",
    "Whisper", "Scream", "Kiss", "Embrace", "Touch", "Sin", "Secret", "Lie", "Truth", "Lies",
    "Memory", "Memories", "Time", "Hour", "Day", "Morning", "Evening", "Twilight", "Dawn", "Dusk",
    "Rain", "Snow", "Wind", "Thunder", "Lightning", "Ocean", "Desert", "Forest", "Jungle", "Field",
    "Farm", "Ranch", "Street", "Avenue", "Alley", "Highway", "Crossing", "Passage", "Tunnel",
    "Labyrinth", "Maze", "Key", "Lock", "Crown", "Sword", "Gun", "Bullet", "Badge", "Ring",
    "Diamond", "Pearl", "Rose", "Lily", "Orchid", "Apple", "Cherry", "Wine", "Whiskey", "Coffee",
    "Chocolate", "Honey", "Salt", "Smoke", "Ashes", "Dust", "Bones", "Blood", "Tears", "Stars",
    "Starlight", "Horizon", "Orbit", "Galaxy", "Comet", "Nebula", "Satellite", "Signal",
    "Frequency", "Network", "Protocol", "Algorithm", "Paradox", "Equation", "Theory", "Experiment",
    "Contagion", "Outbreak", "Quarantine", "Exodus", "Genesis", "Reckoning", "Redemption",
    "Salvation", "Judgment", "Verdict", "Trial", "Jury", "Alibi", "Ransom", "Hostage", "Getaway",
    "Chase", "Pursuit", "Showdown", "Duel", "Battle", "Siege", "Mission", "Operation", "Conspiracy",
    "Betrayal", "Deception", "Obsession", "Desire", "Passion", "Romance", "Holiday", "Vacation",
    "Weekend", "Birthday", "Reunion", "Homecoming", "Graduation", "Prom", "School", "College",
    "Academy", "Club", "Gang", "Crew", "Squad", "Team", "Band", "Legend", "Myth", "Fable", "Saga",
    "Chronicle", "Diary", "Notebook", "Album", "Portrait", "Painting", "Photograph", "Film",
    "Movie", "Show", "Comedy", "Tragedy", "Miracle", "Wonder",
];

/// Nouns that can follow "of the" in "Return of the …".
#[rustfmt::skip]
const LEADS: &[&str] = &[
    "Return", "Rise", "Revenge", "Curse", "Night", "Attack", "Legend", "Secret", "Dawn", "Fall",
    "Call", "Heart", "Song", "Ballad", "Tale", "Lord", "Bride", "Daughter", "Son", "Island",
    "Planet", "Invasion", "Last Days", "Mystery", "Shadow", "Ghost", "Voice", "Day", "Edge", "Age",
    "Year", "Sign", "Mark", "Hour", "Law", "Way", "Battle", "Guardians", "Children",
];

#[rustfmt::skip]
const GERUNDS: &[&str] = &[
    "Chasing", "Finding", "Saving", "Hunting", "Killing", "Loving", "Becoming", "Waiting for",
    "Searching for", "Dancing with", "Running from", "Escaping", "Remembering", "Leaving",
    "Meeting", "Kissing", "Burying", "Stealing", "Breaking", "Crossing", "Raising", "Catching",
    "Following", "Watching", "Missing", "Driving", "Surviving", "Dreaming of", "Living with",
];

#[rustfmt::skip]
const GERUND_OBJECTS: &[&str] = &[
    "Midnight", "Summer", "Christmas", "Shadows", "Ghosts", "Stars", "Dragons", "Heaven", "Home",
    "Love", "Time", "Trouble", "Tomorrow", "Yesterday", "Paradise", "Freedom",
];

const VERBS: &[&str] = &[
    "Open", "Wake", "Trust", "Follow", "Feed", "Touch", "Forget", "Kill", "Call", "Leave", "Cross",
    "Look at",
];

#[rustfmt::skip]
const TIMES: &[&str] = &[
    "Midnight", "Summer", "Winter", "Autumn", "Spring", "Murder", "Love", "Death", "Lost",
    "Trouble", "Nights", "Days", "Christmas", "Sunday", "Weekend", "Strangers", "Alone", "Snow",
    "Rain", "Last Tango", "Breakfast", "Romance", "Dinner", "Blood",
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Max", "Lucy", "Jack", "Maria", "Sam", "Eva", "Oscar", "Rosa", "Hugo", "Emma", "Leo",
    "Nina", "Paul", "Clara", "Tom", "Julia", "Frank", "Alice", "Henry", "Laura", "Victor", "Sarah",
    "Daniel", "Grace", "Walter", "Ruby", "Harry", "Molly", "George", "Kate", "Charlie", "Ellie",
    "Edward", "Stella", "Vincent", "Iris", "Arthur", "Hazel", "Billy", "Dolores", "Marcus", "Vera",
    "Simon", "Lola", "Felix", "Ada", "Johnny", "Joe", "Annie", "Martin", "Helen", "Nikolai",
    "Yuki", "Mei", "Kenji", "Ingrid", "Frida", "Marcel", "Pablo", "Lars", "Olga", "Aiko", "Raj",
    "Priya",
];

/// Names with accents, picked now and then so that about 5% of all titles
/// (with the foreign ones) are not plain ASCII.
#[rustfmt::skip]
const FIRST_NAMES_ACCENTED: &[&str] = &[
    "Amélie", "Léon", "Zoé", "Björn", "José", "Inés", "Jürgen", "Renée", "Chloé", "Søren", "Łukasz",
    "François", "Agnès", "Mónica", "Günther", "Ångström",
];

const SURNAMES: &[&str] = &[
    "Kowalski", "Hartmann", "Miller", "Stone", "Black", "Gray", "Carter", "Brooks", "Fisher",
    "Monroe", "Dillon", "Marlowe", "Spade", "Holmes", "Bishop", "Walker", "Crane", "Fox", "Hunt",
    "Wolf", "Lang", "Moreau", "Dupont", "Tanaka", "Kim", "Petrov", "Rossi", "Bianchi", "Silva",
    "Santos", "O'Brien", "O'Hara", "McKenna", "Baxter", "Starling",
];

#[rustfmt::skip]
const SURNAMES_ACCENTED: &[&str] = &[
    "García", "Müller", "Nováková", "Sørensen", "Schröder", "Ibáñez", "Çelik",
];

#[rustfmt::skip]
const PLACES: &[&str] = &[
    "Lisbon", "Paris", "Tokyo", "Berlin", "Rome", "Vienna", "Cairo", "Havana", "Chicago", "Texas",
    "Brooklyn", "Harlem", "Manhattan", "Casablanca", "Istanbul", "Mumbai", "Shanghai", "Moscow",
    "Prague", "Budapest", "Dublin", "Marseille", "Naples", "Venice", "Oslo", "Stockholm", "Alaska",
    "Montana", "Mexico", "Rio", "Sahara", "Siberia", "Tangier", "Bombay", "Hollywood", "Vegas",
    "Memphis", "Nashville", "Dallas", "Boston", "Seattle", "Miami", "Hong Kong", "Seoul", "Bangkok",
    "Saigon", "Sydney", "Tibet", "Athens", "Sicily", "Tuscany", "Provence", "Manchester", "Glasgow",
    "Amsterdam", "Brussels", "Madrid", "Barcelona", "Buenos Aires",
];

#[rustfmt::skip]
const PLACES_ACCENTED: &[&str] = &[
    "São Paulo", "Zürich", "Bogotá", "Kraków", "Malmö", "Reykjavík", "Montréal", "Göteborg",
    "Düsseldorf", "Córdoba", "Curaçao", "Nîmes", "Québec", "Medellín", "Łódź",
];

fn first_name(rng: &mut SplitMix) -> &'static str {
    if rng.chance(60) {
        rng.pick_str(FIRST_NAMES_ACCENTED)
    } else {
        rng.pick_str(FIRST_NAMES)
    }
}

fn surname(rng: &mut SplitMix) -> &'static str {
    if rng.chance(60) {
        rng.pick_str(SURNAMES_ACCENTED)
    } else {
        rng.pick_str(SURNAMES)
    }
}

fn place(rng: &mut SplitMix) -> &'static str {
    if rng.chance(80) {
        rng.pick_str(PLACES_ACCENTED)
    } else {
        rng.pick_str(PLACES)
    }
}

/// English articles MovieLens moves to the end (`Garden, The`).
const THE: &str = "The";

/// Foreign noun phrases for alternative and original titles, per language:
/// heads with the article MovieLens moves to the end (`Cité des enfants
/// perdus, La`) and tails that fit any head of that language.
struct Language {
    heads: &'static [(&'static str, &'static str)],
    tails: &'static [&'static str],
}

const LANGUAGES: &[Language] = &[
    Language {
        heads: &[
            ("Le", "Jardin"),
            ("La", "Nuit"),
            ("L'", "Été"),
            ("La", "Mémoire"),
            ("Le", "Château"),
            ("L'", "Étoile"),
            ("La", "Fenêtre"),
            ("La", "Forêt"),
            ("L'", "Île"),
            ("Le", "Rêve"),
            ("Le", "Cœur"),
            ("La", "Rivière"),
            ("Les", "Enfants"),
            ("Les", "Amants"),
            ("La", "Chambre"),
            ("Le", "Fantôme"),
            ("La", "Bête"),
        ],
        tails: &[
            "de la peur",
            "du désir",
            "d'automne",
            "de Marseille",
            "sans fin",
            "d'été",
            "des rêves",
            "du passé",
            "de minuit",
            "à Paris",
            "de l'aube",
            "sous la pluie",
            "du silence",
        ],
    },
    Language {
        heads: &[
            ("El", "Secreto"),
            ("La", "Canción"),
            ("El", "Corazón"),
            ("La", "Mañana"),
            ("Los", "Niños"),
            ("Las", "Hermanas"),
            ("El", "Camión"),
            ("La", "Ciudad"),
            ("El", "Sueño"),
            ("El", "Laberinto"),
        ],
        tails: &[
            "del mar",
            "sin nombre",
            "de Bogotá",
            "de mi madre",
            "en Córdoba",
            "de invierno",
            "del olvido",
            "de sus ojos",
        ],
    },
    Language {
        heads: &[
            ("Der", "Himmel"),
            ("Die", "Brücke"),
            ("Das", "Mädchen"),
            ("Die", "Straße"),
            ("Der", "Fluss"),
            ("Das", "Leben"),
            ("Die", "Nächte"),
            ("Der", "König"),
        ],
        tails: &[
            "über Berlin",
            "der anderen",
            "von Düsseldorf",
            "im Nebel",
            "ohne Namen",
            "aus Zürich",
            "der Träume",
        ],
    },
    Language {
        heads: &[
            ("Il", "Giardino"),
            ("La", "Città"),
            ("Il", "Segreto"),
            ("La", "Notte"),
            ("L'", "Uomo"),
            ("Il", "Ritorno"),
        ],
        tails: &[
            "di Napoli",
            "senza fine",
            "del mare",
            "di mezzanotte",
            "più lungo",
        ],
    },
    Language {
        heads: &[
            ("A", "Cidade"),
            ("O", "Coração"),
            ("Os", "Irmãos"),
            ("A", "Estação"),
            ("O", "Céu"),
        ],
        tails: &[
            "de São Paulo",
            "do sertão",
            "sem fim",
            "de Lisboa",
            "da noite",
        ],
    },
];

/// Foreign titles without an article.
#[rustfmt::skip]
const FOREIGN_PLAIN: &[&str] = &[
    "Smultronstället", "Jägarna", "Fårö", "Ødeland", "Kärlek", "Äppelkriget", "Żywot", "Sólo",
    "Ostře sledované vlaky", "Mélodie en sous-sol", "Büyük adam", "Pájaros de verano", "Tystnaden",
    "Festen", "Amores perros", "Cidade de Deus", "Todo sobre mi madre", "Himmel über Berlin",
    "Ladri di biciclette", "Roma, città aperta", "Pépé le Moko",
];

const JAPANESE_A: &[&str] = &[
    "東京", "夏", "風", "海", "星", "月", "森", "京都", "少年", "侍", "猫", "花",
];
#[rustfmt::skip]
const JAPANESE_B: &[&str] = &[
    "物語", "夜", "記憶", "歌", "約束", "王国", "旅", "庭", "秘密", "神隠し",
];
const CHINESE_A: &[&str] = &[
    "英雄", "红", "卧虎", "花样", "霸王", "春光", "无间", "大红", "重庆", "天堂",
];
#[rustfmt::skip]
const CHINESE_B: &[&str] = &[
    "年华", "别姬", "乍泄", "道", "灯笼", "森林", "高粱", "之路", "电影院",
];
const KOREAN_A: &[&str] = &["살인", "봄", "사랑", "밤", "바람", "도시", "여름"];
const KOREAN_B: &[&str] = &["추억", "노래", "기억", "비밀", "끝"];
#[rustfmt::skip]
const RUSSIAN: &[&str] = &[
    "Брат", "Сталкер", "Зеркало", "Солнце", "Звезда", "Война", "Город", "Дом", "Путь", "Ночь",
    "Зима", "Море", "Левиафан", "Возвращение", "Мир", "Утомлённые",
];

const SEQUELS: &[(&str, u32)] = &[
    (" 2", 40),
    (" 3", 15),
    (" II", 12),
    (": Part II", 8),
    (" Returns", 10),
    (": The Next Chapter", 5),
    (" 4", 5),
    (" Reloaded", 3),
    (" III", 4),
];

/// A title before the MovieLens transformation: an optional leading article
/// and the rest.
struct Phrase {
    article: Option<&'static str>,
    body: String,
}

impl Phrase {
    fn bare(body: String) -> Self {
        Self {
            article: None,
            body,
        }
    }

    fn with(article: &'static str, body: String) -> Self {
        Self {
            article: Some(article),
            body,
        }
    }

    /// "A"/"An" before `body`.
    fn indefinite(body: String) -> Self {
        let vowel = body.starts_with(['A', 'E', 'I', 'O', 'U']);
        Self::with(if vowel { "An" } else { "A" }, body)
    }

    /// MovieLens form: the leading article goes to the end after a comma.
    fn movielens(self) -> String {
        match self.article {
            Some(article) => format!("{}, {article}", self.body),
            None => self.body,
        }
    }

    /// Reading form, for subtitles, which keep their article in front.
    fn reading(self) -> String {
        match self.article {
            Some(article) if article.ends_with('\'') => format!("{article}{}", self.body),
            Some(article) => format!("{article} {}", self.body),
            None => self.body,
        }
    }
}

#[derive(Clone, Copy)]
enum Shape {
    TheAdjNoun,
    AdjNoun,
    LeadOfThe,
    TimeInPlace,
    Name,
    NameAndName,
    NamesNoun,
    FullName,
    AnAdjNoun,
    TheNounOf,
    ThreeNouns,
    Salutation,
    Question,
    Quoted,
    NounNumber,
    Noun,
    TheNoun,
    Gerund,
    Warning,
    Colon,
    TheNounVerbs,
}

const SHAPES: &[(Shape, u32)] = &[
    (Shape::TheAdjNoun, 120),
    (Shape::AdjNoun, 80),
    (Shape::LeadOfThe, 90),
    (Shape::TimeInPlace, 60),
    (Shape::Name, 25),
    (Shape::NameAndName, 20),
    (Shape::NamesNoun, 30),
    (Shape::FullName, 20),
    (Shape::AnAdjNoun, 40),
    (Shape::TheNounOf, 40),
    (Shape::ThreeNouns, 12),
    (Shape::Salutation, 12),
    (Shape::Question, 15),
    (Shape::Quoted, 6),
    (Shape::NounNumber, 12),
    (Shape::Noun, 35),
    (Shape::TheNoun, 25),
    (Shape::Gerund, 45),
    (Shape::Warning, 10),
    (Shape::Colon, 35),
    (Shape::TheNounVerbs, 10),
];

fn english_phrase(rng: &mut SplitMix) -> Phrase {
    let adj = |rng: &mut SplitMix| *rng.pick(ADJECTIVES);
    let noun = |rng: &mut SplitMix| *rng.pick(NOUNS);
    let name = first_name;
    match rng.pick_weighted(SHAPES) {
        Shape::TheAdjNoun => Phrase::with(THE, format!("{} {}", adj(rng), noun(rng))),
        Shape::AdjNoun => Phrase::bare(format!("{} {}", adj(rng), noun(rng))),
        Shape::LeadOfThe => {
            let lead = *rng.pick(LEADS);
            let tail = if rng.chance(500) {
                format!("{} {}", adj(rng), noun(rng))
            } else {
                noun(rng).to_owned()
            };
            let body = format!("{lead} of the {tail}");
            if rng.chance(250) {
                Phrase::with(THE, body)
            } else {
                Phrase::bare(body)
            }
        }
        Shape::TimeInPlace => Phrase::bare(format!("{} in {}", rng.pick(TIMES), place(rng))),
        Shape::Name => Phrase::bare(name(rng).to_owned()),
        Shape::NameAndName => {
            let joiner = if rng.chance(300) { "&" } else { "and" };
            Phrase::bare(format!("{} {joiner} {}", name(rng), name(rng)))
        }
        Shape::NamesNoun => Phrase::bare(format!("{}'s {}", name(rng), noun(rng))),
        Shape::FullName => Phrase::bare(format!("{} {}", name(rng), surname(rng))),
        Shape::AnAdjNoun => Phrase::indefinite(format!("{} {}", adj(rng), noun(rng))),
        Shape::TheNounOf => {
            let of = if rng.chance(500) {
                name(rng)
            } else {
                place(rng)
            };
            Phrase::with(THE, format!("{} of {of}", noun(rng)))
        }
        Shape::ThreeNouns => Phrase::bare(format!(
            "{}, {} and {}",
            rng.pick(NOUNS),
            rng.pick(NOUNS),
            rng.pick(NOUNS)
        )),
        Shape::Salutation => {
            let greeting = *rng.pick(&["Goodbye", "Hello", "Farewell", "Good Night", "Love"]);
            let to = if rng.chance(600) {
                name(rng)
            } else {
                place(rng)
            };
            Phrase::bare(format!("{greeting}, {to}"))
        }
        Shape::Question => match rng.below(3) {
            0 => Phrase::bare(format!("Who Killed {} {}?", name(rng), surname(rng))),
            1 => Phrase::bare(format!("Where Is the {} {}?", adj(rng), noun(rng))),
            _ => Phrase::bare(format!("What Happened to {}?", name(rng))),
        },
        Shape::Quoted => Phrase::with(THE, format!("\"{}\" {}", adj(rng), noun(rng))),
        Shape::NounNumber => {
            let number = *rng.pick(&[
                "13", "19", "21", "47", "99", "101", "1984", "2046", "3000", "7", "9", "X",
            ]);
            Phrase::bare(format!("{} {number}", noun(rng)))
        }
        Shape::Noun => Phrase::bare(noun(rng).to_owned()),
        Shape::TheNoun => Phrase::with(THE, noun(rng).to_owned()),
        Shape::Gerund => {
            let gerund = *rng.pick(GERUNDS);
            match rng.below(3) {
                0 => Phrase::bare(format!("{gerund} {}", name(rng))),
                1 => Phrase::bare(format!("{gerund} the {}", noun(rng))),
                _ => Phrase::bare(format!("{gerund} {}", rng.pick(GERUND_OBJECTS))),
            }
        }
        Shape::Warning => {
            Phrase::bare(format!("Don't {} the {}", rng.pick(VERBS), rng.pick(NOUNS)))
        }
        Shape::Colon => {
            let main = if rng.chance(500) {
                format!(
                    "{} {}",
                    noun(rng),
                    rng.pick(&["Hunter", "Squad", "Files", "Force"])
                )
            } else {
                name(rng).to_owned()
            };
            let sub = match rng.below(3) {
                0 => Phrase::with(THE, format!("{} {}", adj(rng), noun(rng))),
                1 => Phrase::bare(format!("{} of {}", noun(rng), place(rng))),
                _ => Phrase::indefinite(format!("{} {}", adj(rng), noun(rng))),
            };
            Phrase::bare(format!("{main}: {}", sub.reading()))
        }
        Shape::TheNounVerbs => {
            let verb = *rng.pick(&["Returns", "Strikes Back", "Wakes", "Rises", "Falls"]);
            Phrase::with(THE, format!("{} {verb}", noun(rng)))
        }
    }
}

fn foreign_phrase(rng: &mut SplitMix) -> Phrase {
    if rng.chance(200) {
        return Phrase::bare((*rng.pick(FOREIGN_PLAIN)).to_owned());
    }
    let language = rng.pick(LANGUAGES);
    let (article, head) = *rng.pick(language.heads);
    Phrase::with(article, format!("{head} {}", rng.pick(language.tails)))
}

/// A title in Japanese, Chinese, Korean or Russian.
fn far_phrase(rng: &mut SplitMix) -> String {
    match rng.below(4) {
        0 => format!("{}の{}", rng.pick(JAPANESE_A), rng.pick(JAPANESE_B)),
        1 => format!("{}{}", rng.pick(CHINESE_A), rng.pick(CHINESE_B)),
        2 => format!("{}의 {}", rng.pick(KOREAN_A), rng.pick(KOREAN_B)),
        _ => {
            if rng.chance(400) {
                format!("{} и {}", rng.pick(RUSSIAN), rng.pick(RUSSIAN))
            } else {
                (*rng.pick(RUSSIAN)).to_owned()
            }
        }
    }
}

/// The English title with an optional sequel suffix, in MovieLens form.
fn english_title(rng: &mut SplitMix) -> String {
    let mut phrase = english_phrase(rng);
    if rng.chance(70) {
        phrase.body.push_str(rng.pick_weighted(SEQUELS));
    }
    phrase.movielens()
}

/// The whole title without the year.
fn title_text(rng: &mut SplitMix) -> String {
    let roll = rng.below(1000);
    match roll {
        // English title with the original foreign title, or the other way round.
        0..12 => format!(
            "{} ({})",
            english_title(rng),
            foreign_phrase(rng).movielens()
        ),
        12..20 => format!(
            "{} ({})",
            foreign_phrase(rng).movielens(),
            english_title(rng)
        ),
        // Foreign title only.
        20..26 => foreign_phrase(rng).movielens(),
        // Japanese, Chinese, Korean or Russian, alone or with the English title.
        26..30 => format!("{} ({})", english_title(rng), far_phrase(rng)),
        30..33 => far_phrase(rng),
        // Also-known-as titles.
        33..36 => format!("{} (a.k.a. {})", english_title(rng), english_title(rng)),
        _ => english_title(rng),
    }
}

// ---------------------------------------------------------------------------
// Popularity and exact splitting of a total over movies.

/// A movie's popularity weight (fixed point, `WEIGHT_ONE` = 1.0).
///
/// `X = 1/√u − 1` for uniform `u` is Lomax (Pareto II) with shape 2: mean 1,
/// median ≈0.41, and a maximum around √N among N movies, which gives the long
/// tail of MovieLens. Computed with the integer square root so every platform
/// gets the same bits.
fn popularity_weight(keys: &Keys, id: u32) -> u64 {
    if let Some(s) = special(id) {
        return s.popularity * WEIGHT_ONE;
    }
    let h = hash(keys.popularity, u64::from(id));
    let u = (h >> 2) + 1; // 1..=2^62
    let root = u.isqrt(); // 1..=2^31
    // 2^47/√u = 2^16 · 2^31/√u = WEIGHT_ONE · (X + 1); the +1 keeps every weight positive.
    let mut weight = (1u64 << 47) / root - (WEIGHT_ONE - 1);
    if mix64(h) % 1000 < OBSCURE_PER_MILLE {
        weight = weight / 16 + 1;
    }
    weight.min(MAX_WEIGHT)
}

/// Splits `total` over items `1..=n` in proportion to their weights, exactly,
/// with no item getting more than `per_item_max`, in one streaming pass after
/// a planning pass (or a few dozen, when a cap is needed).
///
/// The cap is soft (see [`soften`]) so that the most popular items keep
/// distinct, ordered shares instead of a flat top.
#[derive(Debug, Clone)]
struct Splitter {
    total: u64,
    weight_total: u128,
    cap: u64,
    cumulative: u128,
    allotted: u64,
}

impl Splitter {
    /// Requires `total <= n * (per_item_max - 1)` (callers clamp `total`).
    fn new(n: u32, total: u64, per_item_max: u64, weight: impl Fn(u32) -> u64) -> Self {
        let mut splitter = Self {
            total,
            weight_total: 1,
            cap: u64::MAX,
            cumulative: 0,
            allotted: 0,
        };
        if n == 0 || total == 0 {
            splitter.total = 0;
            return splitter;
        }
        // Item `i` gets at most ⌈total·soften(w_i, cap)/W(cap)⌉ < ⌈total·cap/W(cap)⌉;
        // keeping total·cap ≤ (per_item_max − 1)·W(cap) bounds that by per_item_max.
        let room = u128::from(per_item_max.saturating_sub(1));
        let fits = |cap: u64, weight_total: u128| {
            u128::from(total) * u128::from(cap) <= room * weight_total
        };
        let mut histogram = WeightHistogram::new();
        let mut uncapped = 0u128;
        let mut max_weight = 1;
        for id in 1..=n {
            let w = weight(id);
            uncapped += u128::from(w);
            max_weight = max_weight.max(w);
            histogram.add(w);
        }
        splitter.weight_total = uncapped;
        if fits(max_weight, uncapped) {
            return splitter;
        }
        // soften(w, cap)/cap only depends on w/cap and falls as cap grows, so
        // total·cap/W(cap) grows with cap and the caps that fit form a prefix 1..=c. The histogram estimates c without
        // passes over the items; exact passes then confirm it, backing off
        // until it fits (cap 1 always does: W(1) = n since weights are ≥ 1).
        let (mut lo, mut hi) = (1, max_weight);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            // 3% margin for the estimate's error.
            let estimate = histogram.capped_total(mid) * 97 / 100;
            if fits(mid, estimate) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut cap = lo;
        loop {
            let exact: u128 = (1..=n).map(|id| u128::from(soften(weight(id), cap))).sum();
            if cap == 1 || fits(cap, exact) {
                splitter.cap = cap;
                splitter.weight_total = exact;
                return splitter;
            }
            cap = (cap - cap / 8 - 1).max(1);
        }
    }

    /// The share of the next item, given its weight; call once per item in id order.
    fn next_share(&mut self, weight: u64) -> u64 {
        self.cumulative += u128::from(soften(weight, self.cap));
        let upto = (u128::from(self.total) * self.cumulative / self.weight_total) as u64;
        let share = upto - self.allotted;
        self.allotted = upto;
        share
    }
}

/// Counts and sums of weights in logarithmic buckets (8 per power of two),
/// enough to estimate `Σ soften(w, cap)` for any cap within a few percent.
struct WeightHistogram {
    count: [u64; Self::BUCKETS],
    sum: [u128; Self::BUCKETS],
}

impl WeightHistogram {
    const BUCKETS: usize = 64 * 8;

    fn new() -> Self {
        Self {
            count: [0; Self::BUCKETS],
            sum: [0; Self::BUCKETS],
        }
    }

    fn add(&mut self, weight: u64) {
        let weight = weight.max(1);
        let octave = weight.ilog2();
        let eighth = ((u128::from(weight) << 3) >> octave) as usize & 7;
        let bucket = octave as usize * 8 + eighth;
        self.count[bucket] += 1;
        self.sum[bucket] += u128::from(weight);
    }

    fn capped_total(&self, cap: u64) -> u128 {
        self.count
            .iter()
            .zip(&self.sum)
            .filter(|&(&count, _)| count > 0)
            .map(|(&count, &sum)| {
                let mean = (sum / u128::from(count)) as u64;
                u128::from(count) * u128::from(soften(mean, cap))
            })
            .sum()
    }
}

/// `weight` squeezed below `cap` (`u64::MAX` means no cap): unchanged up to
/// `cap/2`, then `h + (w − h)·h/w` with `h = cap/2`, which rises towards `cap`
/// without reaching it. Weights keep their order, so the most popular movies
/// keep distinct counts instead of a flat top.
fn soften(weight: u64, cap: u64) -> u64 {
    let half = cap / 2;
    if weight <= half {
        return weight;
    }
    let (w, h) = (u128::from(weight), u128::from(half));
    // At least 1, so a total of softened weights is never zero.
    ((h + (w - h) * h / w) as u64).max(1)
}

/// Visits `count` distinct values of `0..window` (`count <= window`): an
/// affine walk with a step coprime to the window never repeats within one lap.
#[derive(Debug, Clone)]
struct Walk {
    position: u64,
    step: u64,
    window: u64,
}

impl Walk {
    fn new(rng: &mut SplitMix, window: u64) -> Self {
        let window = window.max(1);
        let mut step = 1 + rng.below(window - 1);
        while gcd(step, window) != 1 {
            step = if step + 1 >= window { 1 } else { step + 1 };
        }
        Self {
            position: rng.below(window),
            step: step % window,
            window,
        }
    }

    fn next_value(&mut self) -> u64 {
        let value = self.position;
        self.position += self.step;
        if self.position >= self.window {
            self.position -= self.window;
        }
        value
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A fixed bijection from activity rank (0 = most active) to user id, so the
/// heavy raters are spread over the id range instead of being users 1, 2, 3.
#[derive(Debug, Clone, Copy)]
struct UserIds {
    users: u64,
    multiplier: u64,
    offset: u64,
}

impl UserIds {
    fn new(keys: &Keys, users: u32) -> Self {
        let users = u64::from(users.max(1));
        let mut rng = SplitMix::new(keys.users ^ 0x5eed);
        let mut multiplier = users / 2 + rng.below(users / 2 + 1);
        while gcd(multiplier, users) != 1 {
            multiplier = multiplier % users + 1;
        }
        Self {
            users,
            multiplier,
            offset: rng.below(users),
        }
    }

    fn id(&self, rank: u64) -> i32 {
        ((rank * self.multiplier + self.offset) % self.users + 1) as i32
    }
}

// ---------------------------------------------------------------------------
// Ratings.

/// The most ratings one movie may get: half of all users (the most watched
/// MovieLens movies come close to that), but always enough room for the total.
fn max_raters(spec: &SampleSpec) -> u64 {
    let users = u64::from(spec.user_count());
    let movies = u64::from(spec.movie_count().max(1));
    (users / 2)
        .max(spec.rating_count().div_ceil(movies) + 1)
        .min(users)
}

/// The habits of one user, derived from the user id alone.
struct UserProfile {
    /// Added to every rating the user gives (harsh or generous raters).
    bias_milli: i64,
    /// About a third of users never use half stars.
    whole_stars: bool,
    first_secs: i64,
    last_secs: i64,
}

fn user_profile(keys: &Keys, user_id: i32) -> UserProfile {
    let mut rng = SplitMix::new(hash(keys.users, user_id as u64));
    let bias_milli = rng.normalish(350);
    let whole_stars = rng.chance(350);
    let first_secs = rng.between(FIRST_RATING_SECS, LAST_SECS);
    // Most users rate in one burst; a few come back for years.
    let v = rng.next_u64() >> 32;
    let v4 = (((v * v) >> 32) * ((v * v) >> 32)) >> 32;
    let span_secs = 3_600 + ((v4 as i64 * 12 * SECS_PER_YEAR) >> 32);
    UserProfile {
        bias_milli,
        whole_stars,
        first_secs,
        last_secs: (first_secs + span_secs).min(LAST_SECS),
    }
}

/// A uniform moment in `[earliest, latest]`, moved after `release` when the
/// window closes before the movie existed (the user came back for it).
fn moment_after(rng: &mut SplitMix, earliest: i64, latest: i64, release: i64) -> i64 {
    let lo = earliest.max(release);
    if lo <= latest {
        rng.between(lo, latest)
    } else {
        let lo = release.min(LAST_SECS);
        rng.between(lo, (lo + 2 * SECS_PER_YEAR).min(LAST_SECS))
    }
}

struct MovieRatings {
    movie_id: i32,
    remaining: u64,
    users: Walk,
    rng: SplitMix,
    mean_milli: i64,
    release_secs: i64,
}

struct Ratings {
    keys: Keys,
    movies: u32,
    users: u64,
    user_ids: UserIds,
    split: Splitter,
    next_movie: u32,
    current: Option<MovieRatings>,
}

impl Ratings {
    fn new(spec: &SampleSpec) -> Self {
        let keys = Keys::new(spec.seed);
        let movies = spec.movie_count();
        let users = spec.user_count();
        let split = Splitter::new(movies, spec.rating_count(), max_raters(spec), |id| {
            popularity_weight(&keys, id)
        });
        Self {
            keys,
            movies,
            users: u64::from(users),
            user_ids: UserIds::new(&keys, users),
            split,
            next_movie: 1,
            current: None,
        }
    }

    /// Sets up the next movie that has ratings; false when all are done.
    fn advance(&mut self) -> bool {
        while self.next_movie <= self.movies {
            let id = self.next_movie;
            self.next_movie += 1;
            let count = self.split.next_share(popularity_weight(&self.keys, id));
            if count == 0 {
                continue;
            }
            let mut rng = SplitMix::new(hash(self.keys.ratings, u64::from(id)));
            // The window of user ranks: small windows pull in the most active
            // users; some movies draw from everyone, so every user rates something.
            let spare = self.users - count;
            let window = if rng.chance(150) {
                self.users
            } else {
                count + ((spare * rng.cubed_fraction()) >> 32)
            };
            let users = Walk::new(&mut rng, window);
            let mut quality = SplitMix::new(hash(self.keys.quality, u64::from(id)));
            // Popular movies are rated a little higher, as in MovieLens.
            let popularity_bonus = (count.min(1_000) / 4) as i64;
            self.current = Some(MovieRatings {
                movie_id: id as i32,
                remaining: count,
                users,
                rng,
                mean_milli: 3_620 + quality.normalish(420) + popularity_bonus,
                release_secs: release_secs(&self.keys, id),
            });
            return true;
        }
        false
    }
}

impl Iterator for Ratings {
    type Item = RatingRecord;

    fn next(&mut self) -> Option<RatingRecord> {
        loop {
            if let Some(movie) = self.current.as_mut().filter(|m| m.remaining > 0) {
                movie.remaining -= 1;
                let user_id = self.user_ids.id(movie.users.next_value());
                let user = user_profile(&self.keys, user_id);
                let rng = &mut movie.rng;
                let mut latent = movie.mean_milli + user.bias_milli + rng.normalish(820);
                // Ratings are skewed: a minority of strong dislikes.
                if rng.chance(60) {
                    latent -= 1_600;
                }
                let half_stars = if user.whole_stars {
                    2 * (latent + 500).div_euclid(1000).clamp(1, 5)
                } else {
                    (latent + 250).div_euclid(500).clamp(1, 10)
                };
                let timestamp_secs =
                    moment_after(rng, user.first_secs, user.last_secs, movie.release_secs);
                return Some(RatingRecord {
                    user_id,
                    movie_id: movie.movie_id,
                    rating: half_stars as f32 * 0.5,
                    timestamp_secs,
                });
            }
            if !self.advance() {
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Tags.

/// Tag vocabulary, most common first (the walk over it favours the front).
#[rustfmt::skip]
const TAG_WORDS: &[&str] = &[
    "atmospheric", "funny", "visually appealing", "twist ending", "based on a book", "dark comedy",
    "sci-fi", "thought-provoking", "classic", "action", "surreal", "comedy", "psychology",
    "dystopia", "quirky", "romance", "predictable", "violence", "philosophical", "great soundtrack",
    "Oscar (Best Picture)", "pixar", "animation", "Disney", "nonlinear", "time travel", "mindfuck",
    "cult film", "stylized", "beautiful", "inspirational", "emotional", "disturbing",
    "social commentary", "satire", "boring", "overrated", "underrated", "masterpiece",
    "based on a true story", "true story", "World War II", "space", "aliens", "superhero", "Marvel",
    "DC Comics", "zombies", "vampires", "witches", "magic", "fantasy world", "dragons", "heist",
    "crime", "mafia", "gangsters", "serial killer", "detective", "mystery", "suspense", "thriller",
    "horror", "gore", "slasher", "ghosts", "haunted house", "post-apocalyptic",
    "artificial intelligence", "robots", "cyberpunk", "virtual reality", "dreamlike", "dreams",
    "memory", "mental illness", "drugs", "addiction", "coming of age", "high school", "teen",
    "family", "friendship", "love story", "relationships", "marriage", "divorce", "betrayal",
    "revenge", "redemption", "survival", "road trip", "travel", "New York City", "Paris", "London",
    "Los Angeles", "Japan", "France", "Italy", "Germany", "India", "Korea", "Mexico", "Brazil",
    "Africa", "Cold War", "Vietnam", "politics", "history", "biography", "music", "musical",
    "dance", "jazz", "rock and roll", "sports", "boxing", "baseball", "football", "martial arts",
    "kung fu", "samurai", "western", "cowboys", "war", "military", "espionage", "spy", "James Bond",
    "car chase", "explosions", "special effects", "CGI", "stop motion", "hand-drawn",
    "black and white", "silent film", "noir", "neo-noir", "low budget", "independent film",
    "foreign", "subtitles", "remake", "sequel", "franchise", "trilogy", "book was better", "long",
    "slow", "fast-paced", "witty", "dialogue", "quotable", "cheesy", "so bad it's good",
    "guilty pleasure", "feel-good", "tearjerker", "heartwarming", "sad", "bittersweet",
    "melancholic", "nostalgic", "dark", "bleak", "gritty", "realistic", "cinematography",
    "great acting", "ensemble cast", "strong female lead", "anti-hero", "morally ambiguous",
    "open ending", "plot twist", "unreliable narrator", "flashbacks", "Christopher Nolan",
    "Quentin Tarantino", "Stanley Kubrick", "Alfred Hitchcock", "Steven Spielberg", "Wes Anderson",
    "Hayao Miyazaki", "Studio Ghibli", "Akira Kurosawa", "Pedro Almodóvar", "Krzysztof Kieślowski",
    "François Truffaut", "Jean-Luc Godard", "Ingmar Bergman", "Björk", "Amélie-esque", "Zürich",
    "film noir à la française", "宮崎駿", "アニメ", "кино", "funny, but sad", "Tom Hanks", "Meryl Streep",
    "Morgan Freeman",
];

struct MovieTags {
    movie_id: i32,
    remaining: u64,
    words: Walk,
    rng: SplitMix,
    release_secs: i64,
}

struct Tags {
    keys: Keys,
    movies: u32,
    users: u64,
    user_ids: UserIds,
    split: Splitter,
    next_movie: u32,
    current: Option<MovieTags>,
}

impl Tags {
    fn new(spec: &SampleSpec) -> Self {
        let keys = Keys::new(spec.seed);
        let movies = spec.movie_count();
        let users = spec.user_count();
        let vocabulary = TAG_WORDS.len() as u64;
        let total = spec.tag_count().min(u64::from(movies) * (vocabulary - 1));
        let split = Splitter::new(movies, total, vocabulary, |id| popularity_weight(&keys, id));
        Self {
            keys,
            movies,
            users: u64::from(users),
            user_ids: UserIds::new(&keys, users),
            split,
            next_movie: 1,
            current: None,
        }
    }

    fn advance(&mut self) -> bool {
        while self.next_movie <= self.movies {
            let id = self.next_movie;
            self.next_movie += 1;
            let count = self.split.next_share(popularity_weight(&self.keys, id));
            if count == 0 {
                continue;
            }
            let mut rng = SplitMix::new(hash(self.keys.tags, u64::from(id)));
            let spare = TAG_WORDS.len() as u64 - count;
            let window = count + ((spare * rng.cubed_fraction()) >> 32);
            let words = Walk::new(&mut rng, window);
            self.current = Some(MovieTags {
                movie_id: id as i32,
                remaining: count,
                words,
                rng,
                release_secs: release_secs(&self.keys, id),
            });
            return true;
        }
        false
    }
}

impl Iterator for Tags {
    type Item = TagRecord;

    fn next(&mut self) -> Option<TagRecord> {
        loop {
            if let Some(movie) = self.current.as_mut().filter(|m| m.remaining > 0) {
                movie.remaining -= 1;
                let tag = TAG_WORDS[movie.words.next_value() as usize];
                // Few users tag at all, and a handful of them tag a lot.
                let rank = (self.users * movie.rng.cubed_fraction()) >> 32;
                let user_id = self.user_ids.id(rank);
                let timestamp_secs = moment_after(
                    &mut movie.rng,
                    FIRST_TAG_SECS,
                    LAST_SECS,
                    movie.release_secs,
                );
                return Some(TagRecord {
                    user_id,
                    movie_id: movie.movie_id,
                    tag: tag.to_owned(),
                    timestamp_secs,
                });
            }
            if !self.advance() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::title::parse_year;
    use std::collections::{BTreeMap, HashSet};

    fn spec(movies: u32, ratings: u64) -> SampleSpec {
        SampleSpec {
            movies,
            ratings,
            seed: 7,
        }
    }

    /// Same movies-to-ratings ratio as the default collection, a quarter of the size.
    fn default_shape() -> SampleSpec {
        SampleSpec {
            movies: 21_634,
            ratings: 250_000,
            seed: DEFAULT_SEED,
        }
    }

    #[test]
    fn default_spec() {
        let spec = SampleSpec::default();
        assert_eq!(spec.movies, 86_537);
        assert_eq!(spec.ratings, 1_000_000);
        assert_eq!(spec.user_count(), 6_667);
        assert_eq!(spec.rating_count(), 1_000_000);
        assert_eq!(spec.tag_count(), 21_634);
    }

    #[test]
    fn same_seed_same_collection() {
        let a = spec(3_000, 60_000);
        let b = spec(3_000, 60_000);
        assert!(a.movies().eq(b.movies()));
        assert!(a.ratings().eq(b.ratings()));
        assert!(a.tags().eq(b.tags()));
        let other = SampleSpec { seed: 8, ..a };
        assert!(!a.movies().eq(other.movies()));
        assert!(!a.ratings().eq(other.ratings()));
    }

    #[test]
    fn first_rows_are_pinned() {
        // These values must never change between runs or platforms; update
        // them only on purpose, when the generator itself changes.
        let spec = SampleSpec::default();
        let titles: Vec<(i32, String, Option<i16>)> = spec
            .movies()
            .take(5)
            .map(|m| (m.id, m.title, m.year))
            .collect();
        assert_eq!(
            titles,
            [
                (
                    1,
                    "Kissing Tomorrow (天堂森林) (1936)".to_owned(),
                    Some(1936)
                ),
                (2, "Lucky Queen, A (2021)".to_owned(), Some(2021)),
                (3, "Silence of Priya, The (1980)".to_owned(), Some(1980)),
                (4, "Outlaw, The (2019)".to_owned(), Some(2019)),
                (5, "Lucy's Farm III (2022)".to_owned(), Some(2022)),
            ]
        );
        let first = spec.movies().next().expect("a movie");
        assert_eq!(first.genres, ["Action", "Crime", "Thriller"]);
        assert_eq!((first.imdb_id, first.tmdb_id), (Some(29_285), Some(9_529)));

        let ratings: Vec<RatingRecord> = spec.ratings().take(4).collect();
        let expected = [
            (4859, 1, 3.0, 1_598_408_242),
            (5742, 1, 4.5, 1_032_177_998),
            (6625, 1, 5.0, 1_244_847_514),
            (5919, 2, 3.5, 1_621_850_611),
        ]
        .map(|(user_id, movie_id, rating, timestamp_secs)| RatingRecord {
            user_id,
            movie_id,
            rating,
            timestamp_secs,
        });
        assert_eq!(ratings, expected);

        let tag = spec.tags().next().expect("a tag");
        assert_eq!(
            tag,
            TagRecord {
                user_id: 4275,
                movie_id: 5,
                tag: "post-apocalyptic".to_owned(),
                timestamp_secs: 1_677_841_603,
            }
        );
    }

    #[test]
    fn rating_count_is_exact() {
        for (movies, ratings) in [
            (2_000, 50_000),
            (10, 1_000),
            (1, 5),
            (3, 1),
            (5_000, 1),
            (50_000, 20_000),
            (100, 0),
        ] {
            let spec = spec(movies, ratings);
            assert_eq!(spec.rating_count(), ratings, "{spec:?}");
            assert_eq!(spec.ratings().count() as u64, ratings, "{spec:?}");
        }
        let empty = spec(0, 1_000);
        assert_eq!(empty.rating_count(), 0);
        assert_eq!(empty.ratings().count(), 0);
        assert_eq!(empty.movies().count(), 0);
        assert_eq!(empty.tags().count(), 0);
    }

    #[test]
    fn user_movie_pairs_are_unique() {
        for spec in [
            spec(2_000, 50_000),
            spec(10, 1_000),
            spec(1, 5),
            spec(300, 44_000),
        ] {
            let users = spec.user_count() as i32;
            let mut seen = HashSet::new();
            for r in spec.ratings() {
                assert!((1..=users).contains(&r.user_id), "{r:?} in {spec:?}");
                assert!((1..=spec.movies as i32).contains(&r.movie_id), "{r:?}");
                assert!(
                    seen.insert((r.user_id, r.movie_id)),
                    "{r:?} twice in {spec:?}"
                );
            }
            assert_eq!(seen.len() as u64, spec.ratings);
        }
    }

    #[test]
    fn ratings_are_half_stars_in_time() {
        let spec = spec(2_000, 50_000);
        let release: BTreeMap<i32, i64> = spec
            .movies()
            .map(|m| (m.id, m.year.map_or(FIRST_RATING_SECS, year_start_secs)))
            .collect();
        for r in spec.ratings() {
            assert!((0.5..=5.0).contains(&r.rating), "{r:?}");
            assert_eq!((r.rating * 2.0).fract(), 0.0, "{r:?}");
            assert!(
                (FIRST_RATING_SECS..=LAST_SECS).contains(&r.timestamp_secs),
                "{r:?}"
            );
            assert!(
                r.timestamp_secs >= release[&r.movie_id],
                "{r:?} before release"
            );
        }
    }

    #[test]
    fn tags_reference_movies_and_users_once() {
        let spec = spec(4_000, 80_000);
        let tags: Vec<TagRecord> = spec.tags().collect();
        assert_eq!(tags.len() as u64, spec.tag_count());
        assert_eq!(tags.len(), 1_000);
        let mut seen = HashSet::new();
        for t in &tags {
            assert!((1..=spec.user_count() as i32).contains(&t.user_id), "{t:?}");
            assert!((1..=4_000).contains(&t.movie_id), "{t:?}");
            assert!(
                (FIRST_TAG_SECS..=LAST_SECS).contains(&t.timestamp_secs),
                "{t:?}"
            );
            assert!(seen.insert((t.movie_id, t.tag.as_str())), "{t:?} twice");
        }
        // Tiny collections still get their quarter.
        assert_eq!(super::tests::spec(3, 0).tags().count(), 1);
        assert_eq!(super::tests::spec(1, 0).tags().count(), 0);
    }

    #[test]
    fn tag_vocabulary_is_varied() {
        let distinct: HashSet<&str> = TAG_WORDS.iter().copied().collect();
        assert_eq!(distinct.len(), TAG_WORDS.len(), "no duplicate tags");
        assert!((180..=260).contains(&TAG_WORDS.len()));
        for wanted in [
            "pixar",
            "atmospheric",
            "twist ending",
            "based on a book",
            "dark comedy",
        ] {
            assert!(distinct.contains(wanted), "{wanted}");
        }
        assert!(distinct.contains("Oscar (Best Picture)"));
        assert!(TAG_WORDS.iter().filter(|t| !t.is_ascii()).count() >= 5);
    }

    #[test]
    fn titles_follow_movielens_conventions() {
        let spec = default_shape();
        let genre_names: HashSet<&str> = GENRES.iter().map(|(name, _)| *name).collect();
        for m in spec.movies() {
            assert_eq!(parse_year(&m.title), m.year, "{m:?}");
            assert_eq!(m.title.trim(), m.title, "{m:?}");
            for article in ["The ", "A ", "An "] {
                assert!(!m.title.starts_with(article), "article not moved: {m:?}");
            }
            assert!(m.genres.len() <= 6, "{m:?}");
            assert!(
                m.genres.iter().all(|g| genre_names.contains(g.as_str())),
                "{m:?}"
            );
            assert!(!m.title.contains(['\n', '\r', '\0']), "{m:?}");
            if let Some(year) = m.year {
                assert!((1900..=2023).contains(&year), "{m:?}");
            }
        }
    }

    #[test]
    fn star_wars_is_where_movielens_has_it() {
        let spec = SampleSpec::default();
        let saga: Vec<(i32, String)> = spec
            .movies()
            .filter(|m| m.title.starts_with("Star Wars: Episode"))
            .map(|m| (m.id, m.title))
            .collect();
        assert_eq!(
            saga.len(),
            6,
            "episode VII has id 122886, beyond the default"
        );
        assert_eq!(
            saga[0],
            (260, "Star Wars: Episode IV - A New Hope (1977)".to_owned())
        );
    }

    #[test]
    fn titles_are_realistic() {
        let movies: Vec<MovieRecord> = default_shape().movies().collect();
        let share = |pred: &dyn Fn(&MovieRecord) -> bool| {
            movies.iter().filter(|m| pred(m)).count() as f64 / movies.len() as f64
        };
        let no_year = share(&|m| m.year.is_none());
        assert!((0.006..=0.015).contains(&no_year), "no year {no_year}");
        let non_ascii = share(&|m| !m.title.is_ascii());
        assert!(
            (0.035..=0.065).contains(&non_ascii),
            "non-ASCII {non_ascii}"
        );
        let cjk = share(&|m| {
            m.title
                .chars()
                .any(|c| ('\u{3040}'..='\u{9fff}').contains(&c))
        });
        assert!(cjk > 0.002, "CJK {cjk}");
        let cyrillic = share(&|m| {
            m.title
                .chars()
                .any(|c| ('\u{400}'..='\u{4ff}').contains(&c))
        });
        assert!(cyrillic > 0.001, "Cyrillic {cyrillic}");
        let alternative = share(&|m| m.title.matches(" (").count() >= 2);
        assert!(
            (0.02..=0.05).contains(&alternative),
            "alternative {alternative}"
        );
        let moved = share(&|m| m.title.contains(", The") || m.title.contains(", A"));
        assert!(moved > 0.15, "moved articles {moved}");
        assert!(share(&|m| m.title.contains('"')) > 0.001);
        assert!(share(&|m| m.title.contains('\'')) > 0.02);
        let recent = share(&|m| m.year.is_some_and(|y| y > 1990));
        assert!((0.55..=0.75).contains(&recent), "after 1990 {recent}");
        let old = share(&|m| m.year.is_some_and(|y| y < 1930));
        assert!(old > 0.02, "before 1930 {old}");
        // A substring search finds a realistic number of hits (hundreds in the
        // default collection, four times this one).
        let star = share(&|m| m.title.to_lowercase().contains("star"));
        let war = share(&|m| m.title.to_lowercase().contains("war"));
        assert!((0.003..=0.02).contains(&star), "star {star}");
        assert!((0.003..=0.02).contains(&war), "war {war}");
        let distinct: HashSet<&str> = movies.iter().map(|m| m.title.as_str()).collect();
        assert!(
            distinct.len() as f64 > 0.97 * movies.len() as f64,
            "titles mostly distinct"
        );
        let links = share(&|m| m.imdb_id.is_some() && m.tmdb_id.is_some());
        assert!((0.97..1.0).contains(&links), "links {links}");
        assert!(movies.iter().any(|m| m.tmdb_id.is_none()));
    }

    #[test]
    fn genres_have_movielens_frequencies() {
        let movies: Vec<MovieRecord> = default_shape().movies().collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &movies {
            for g in &m.genres {
                *counts.entry(g.as_str()).or_default() += 1;
            }
        }
        let share = |g: &str| counts.get(g).copied().unwrap_or(0) as f64 / movies.len() as f64;
        assert_eq!(counts.len(), 19, "{counts:?}");
        let none = movies.iter().filter(|m| m.genres.is_empty()).count() as f64;
        let none = none / movies.len() as f64;
        assert!((0.01..=0.03).contains(&none), "no genres {none}");
        assert!(share("Drama") > share("Comedy") && share("Comedy") > share("Thriller"));
        assert!((0.3..=0.5).contains(&share("Drama")), "{counts:?}");
        assert!(
            share("Film-Noir") < 0.01 && share("IMAX") < 0.01,
            "{counts:?}"
        );
        assert!(movies.iter().all(|m| m.genres.len() <= 6));
        // Film-Noir only where it belongs.
        assert!(
            movies
                .iter()
                .filter(|m| m.genres.iter().any(|g| g == "Film-Noir"))
                .all(|m| m.year.is_some_and(|y| (1940..=1959).contains(&y)))
        );
    }

    #[test]
    fn ratings_are_realistic() {
        let spec = default_shape();
        let movies = spec.movie_count() as usize;
        let mut per_movie = vec![(0u32, 0.0f64); movies + 1];
        let mut per_user = vec![0u32; spec.user_count() as usize + 1];
        let mut histogram = [0u64; 11];
        for r in spec.ratings() {
            let entry = &mut per_movie[r.movie_id as usize];
            entry.0 += 1;
            entry.1 += f64::from(r.rating);
            per_user[r.user_id as usize] += 1;
            histogram[(r.rating * 2.0) as usize] += 1;
        }
        let total: u64 = histogram.iter().sum();
        assert_eq!(total, 250_000);
        let mean = histogram
            .iter()
            .enumerate()
            .map(|(half, n)| half as f64 * 0.5 * *n as f64)
            .sum::<f64>()
            / total as f64;
        assert!((3.2..=3.8).contains(&mean), "mean {mean}");
        let most_common = (0..11).max_by_key(|&i| histogram[i]).expect("ratings");
        assert_eq!(
            most_common, 8,
            "4.0 is the most common rating: {histogram:?}"
        );
        assert!(histogram[10] > histogram[9], "5.0 beats 4.5: {histogram:?}");
        assert!(
            histogram[1] > 0 && histogram[2] > histogram[1],
            "{histogram:?}"
        );

        let mut counts: Vec<u32> = per_movie[1..].iter().map(|(n, _)| *n).collect();
        counts.sort_unstable();
        let unrated = counts.iter().filter(|&&n| n == 0).count() as f64 / movies as f64;
        assert!((0.08..=0.2).contains(&unrated), "unrated {unrated}");
        let median = counts[movies / 2];
        let top = counts[movies - 1];
        assert!((2..=10).contains(&median), "median {median}");
        assert!(top > 500 && top > 50 * median, "top {top}, median {median}");

        // Movie averages differ.
        let averages: Vec<f64> = per_movie
            .iter()
            .filter(|(n, _)| *n >= 30)
            .map(|(n, sum)| sum / f64::from(*n))
            .collect();
        let low = averages.iter().copied().fold(f64::MAX, f64::min);
        let high = averages.iter().copied().fold(f64::MIN, f64::max);
        assert!(low < 3.0 && high > 4.0, "averages {low}..{high}");

        // Long-tailed users, and everybody rated something.
        let mut users: Vec<u32> = per_user[1..].to_vec();
        users.sort_unstable();
        let median_user = users[users.len() / 2];
        let top_user = users[users.len() - 1];
        assert!(users[0] > 0, "a user without ratings");
        assert!(
            top_user > 10 * median_user,
            "top user {top_user}, median {median_user}"
        );
    }

    #[test]
    fn huge_collections_stream() {
        let spec = SampleSpec {
            movies: 10_000_000,
            ratings: 100_000_000,
            seed: 3,
        };
        assert_eq!(spec.movies().take(1_000).count(), 1_000);
        let last = generate_movie(&Keys::new(spec.seed), spec.movies);
        assert_eq!(last.id, 10_000_000);
        assert_eq!(spec.ratings().take(1_000).count(), 1_000);
        assert_eq!(spec.tags().take(10).count(), 10);
        assert_eq!(spec.user_count(), 666_667);
    }

    #[test]
    fn splitter_is_exact_and_respects_the_cap() {
        let weights = |id: u32| u64::from(id % 7 + 1) * u64::from(id % 13 + 1) * 1_000 + 1;
        for (n, total, max) in [(50, 1_000, 30), (50, 1_450, 30), (1, 9, 10), (500, 7, 2)] {
            let mut split = Splitter::new(n, total, max, weights);
            let shares: Vec<u64> = (1..=n).map(|id| split.next_share(weights(id))).collect();
            assert_eq!(shares.iter().sum::<u64>(), total, "n {n} total {total}");
            assert!(shares.iter().all(|&s| s <= max), "{shares:?}");
        }
        // Without a binding cap, shares follow the weights.
        let mut split = Splitter::new(3, 60, 1_000, u64::from);
        let shares: Vec<u64> = (1..=3u32)
            .map(|id| split.next_share(u64::from(id)))
            .collect();
        assert_eq!(shares, [10, 20, 30]);
    }

    #[test]
    fn soften_keeps_order_below_the_cap() {
        assert_eq!(soften(40, u64::MAX), 40);
        assert_eq!(soften(50, 100), 50);
        let softened: Vec<u64> = [60, 100, 1_000, 1_000_000].map(|w| soften(w, 100)).to_vec();
        assert!(softened.windows(2).all(|w| w[0] < w[1]), "{softened:?}");
        assert!(softened.iter().all(|&w| w < 100), "{softened:?}");
    }

    #[test]
    fn walks_never_repeat_within_a_lap() {
        let mut rng = SplitMix::new(42);
        for window in 1..300 {
            let mut walk = Walk::new(&mut rng, window);
            let seen: HashSet<u64> = (0..window).map(|_| walk.next_value()).collect();
            assert_eq!(seen.len() as u64, window);
            assert!(seen.iter().all(|&v| v < window));
        }
    }

    #[test]
    fn user_ids_are_a_bijection() {
        let keys = Keys::new(5);
        for users in [1, 2, 3, 10, 97, 1_000] {
            let ids = UserIds::new(&keys, users);
            let seen: HashSet<i32> = (0..u64::from(users)).map(|rank| ids.id(rank)).collect();
            assert_eq!(seen.len() as u32, users);
            assert!(seen.iter().all(|&id| (1..=users as i32).contains(&id)));
        }
    }

    #[test]
    fn year_starts_are_utc_midnights() {
        assert_eq!(year_start_secs(1970), 0);
        assert_eq!(year_start_secs(1996), FIRST_RATING_SECS);
        assert_eq!(year_start_secs(2006), FIRST_TAG_SECS);
        assert_eq!(year_start_secs(2024), LAST_SECS + 1);
        assert_eq!(year_start_secs(1900), -2_208_988_800);
    }
}
