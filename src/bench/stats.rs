//! The one statistics helper every benchmark reports through, plus the machine description,
//! peak memory and a small seeded random generator (so runs jump to the same rows every time).

use std::time::Duration;

use serde::Serialize;

/// Median, 95th percentile and maximum of a set of durations, in microseconds.
///
/// Percentiles are nearest-rank on the sorted samples (no interpolation), so every reported
/// figure is a duration that was actually observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub samples: usize,
    /// Median.
    pub median_micros: f64,
    /// 95th percentile.
    pub p95_micros: f64,
    /// Largest sample.
    pub max_micros: f64,
    /// Smallest sample.
    pub min_micros: f64,
}

impl Summary {
    /// Summarises `samples` (all zeros when there are none).
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted: Vec<Duration> = samples.to_vec();
        sorted.sort_unstable();
        let rank = |q: f64| {
            let index = ((sorted.len() as f64) * q).ceil() as usize;
            micros(sorted[index.clamp(1, sorted.len()) - 1])
        };
        Self {
            samples: sorted.len(),
            median_micros: rank(0.5),
            p95_micros: rank(0.95),
            max_micros: micros(sorted[sorted.len() - 1]),
            min_micros: micros(sorted[0]),
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Peak resident memory of this process (`VmHWM` in /proc/self/status), in KiB; 0 when the
/// platform has no /proc.
pub fn peak_rss_kib() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Where a benchmark ran: every figure is meaningless without it.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical cores available to this process.
    pub cores: usize,
    /// Physical memory.
    pub memory_gib: f64,
    /// CPU model name, when /proc/cpuinfo says.
    pub cpu: String,
}

impl Machine {
    /// Reads the machine's description.
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|kib| kib.parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / (1024.0 * 1024.0));
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            })
            .unwrap_or_default();
        Self {
            cores,
            memory_gib,
            cpu,
        }
    }
}

/// SplitMix64: a seeded generator, enough for picking ids and rows reproducibly.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Same seed, same sequence.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high` (slightly biased for huge ranges, irrelevant here).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// CPU time this thread has used.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_of_observed_samples() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = Summary::of(&samples);
        assert_eq!(s.samples, 100);
        assert_eq!(s.median_micros, 50.0);
        assert_eq!(s.p95_micros, 95.0);
        assert_eq!(s.max_micros, 100.0);
        assert_eq!(s.min_micros, 1.0);
        let one = Summary::of(&[Duration::from_millis(3)]);
        assert_eq!((one.median_micros, one.p95_micros), (3_000.0, 3_000.0));
        assert_eq!(Summary::of(&[]).samples, 0);
    }

    #[test]
    fn random_ranges_stay_inside() {
        let mut rng = Rng::new(7);
        for _ in 0..1_000 {
            let x = rng.range(5, 9);
            assert!((5..=9).contains(&x));
        }
    }
}
