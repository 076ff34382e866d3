//! Per-event randomness: a counter-based SplitMix64 stream seeded by `(seed, event index)`.
//!
//! The reference generator seeds a fresh `Random` with each event id, which is what lets
//! any number of parallel generators produce the same events; a SplitMix64 stream started
//! from `mix(seed ^ mix(index))` does the same here, with a user seed on top and no
//! allocation. The helpers mirror the reference's `nextString`, `nextExtra` and `nextPrice`.

/// Letters `a`–`z`, as the reference's random strings use.
const LETTERS: u128 = 26;

/// SplitMix64's increment (the golden ratio in 64-bit fixed point).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A random stream for one event.
#[derive(Debug, Clone)]
pub(crate) struct EventRng(u64);

impl EventRng {
    /// The stream of event `index` under `seed`.
    pub(crate) fn new(seed: u64, index: u64) -> Self {
        Self(mix(seed ^ mix(index)))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// A uniform integer in `0..n` (`0` when `n == 0`), by multiply-shift.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A price in cents, `round(10^(6u) · 100)` for a uniform `u`: 1.00 to 1,000,000.00,
    /// log-uniform (the reference's `nextPrice`).
    pub(crate) fn price(&mut self) -> i64 {
        (10f64.powf(self.unit() * 6.0) * 100.0).round() as i64
    }

    /// Appends `len` random lowercase letters to `out`.
    pub(crate) fn push_letters(&mut self, len: usize, out: &mut String) {
        out.reserve(len);
        let mut bits = 0u64;
        let mut left = 0;
        for _ in 0..len {
            if left == 0 {
                bits = self.next_u64();
                // 26^8 < 2^38: eight letters per draw keep every letter close to uniform.
                left = 8;
            }
            let wide = u128::from(bits) * LETTERS;
            out.push(char::from(b'a' + (wide >> 64) as u8));
            bits = wide as u64;
            left -= 1;
        }
    }

    /// `len` random lowercase letters.
    pub(crate) fn letters(&mut self, len: usize) -> String {
        let mut s = String::new();
        self.push_letters(len, &mut s);
        s
    }

    /// The padding that brings an event of `current` bytes to `desired_average` on average:
    /// a random length within ±20 % of the difference (the reference's `nextExtra`).
    pub(crate) fn extra(&mut self, current: usize, desired_average: usize) -> String {
        if current > desired_average {
            return String::new();
        }
        let average = desired_average - current;
        let delta = (average + 2) / 5;
        let len = average - delta + self.below(2 * delta as u64) as usize;
        self.letters(len)
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mix with good avalanche.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_differ_by_seed_and_index() {
        let a: Vec<u64> = (0..4).map(|_| EventRng::new(1, 7).below(1 << 40)).collect();
        let mut r = EventRng::new(1, 7);
        assert_eq!(a[0], r.below(1 << 40));
        assert_ne!(EventRng::new(1, 7).below(u64::MAX), EventRng::new(2, 7).below(u64::MAX));
        assert_ne!(EventRng::new(1, 7).below(u64::MAX), EventRng::new(1, 8).below(u64::MAX));
    }

    #[test]
    fn helpers_stay_in_their_ranges() {
        let mut r = EventRng::new(3, 0);
        let mut letter_counts = [0usize; 26];
        for _ in 0..2_000 {
            let p = r.price();
            assert!((100..=100_000_000).contains(&p), "price {p}");
            assert!(r.below(5) < 5);
            for b in r.letters(13).bytes() {
                letter_counts[usize::from(b - b'a')] += 1;
            }
            let extra = r.extra(32, 100);
            assert!((54..82).contains(&extra.len()), "extra of {} bytes", extra.len());
        }
        assert!(
            letter_counts.iter().all(|n| *n > 700),
            "letters near uniform: {letter_counts:?}"
        );
        assert_eq!(r.extra(300, 200), "");
    }
}
