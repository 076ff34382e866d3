//! Fixed windows: their bounds, their specification, and which windows hold an event time.
//!
//! Windows are aligned to the Unix epoch: a window's start is a multiple of the slide, so
//! every worker, process and replay assigns the same windows without coordination. The
//! alignment uses floor division (`div_euclid`), which stays correct for negative event times
//! (before 1970): `-1` belongs to `[-slide, 0)`, not to `[0, slide)`.

use std::fmt;

use serde::{Deserialize, Serialize};
use tributary_engine::EventTime;

/// A half-open event-time interval `[start, end)`, in epoch milliseconds.
///
/// Ordered by `start`, then `end`. Serialises as `{"start": .., "end": ..}`, so a projection
/// row can carry it (or its two fields) straight into SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond in the window.
    pub start: EventTime,
    /// First millisecond after the window.
    pub end: EventTime,
}

impl Window {
    /// Whether `ts` lies in `[start, end)`.
    pub fn contains(&self, ts: EventTime) -> bool {
        self.start <= ts && ts < self.end
    }
}

/// Why a [`WindowSpec`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowError {
    /// The window size must be positive.
    NonPositiveSize(i64),
    /// The slide must be positive and at most the size (a larger slide would skip events).
    InvalidSlide {
        /// The requested size.
        size_ms: i64,
        /// The requested slide.
        slide_ms: i64,
    },
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonPositiveSize(size) => write!(f, "window size must be positive, got {size} ms"),
            Self::InvalidSlide { size_ms, slide_ms } => write!(
                f,
                "window slide must be in 1..={size_ms} ms (the size), got {slide_ms} ms"
            ),
        }
    }
}

impl std::error::Error for WindowError {}

/// Tumbling (`slide == size`) or hopping (`slide < size`) windows of a fixed size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WindowSpec {
    size_ms: i64,
    slide_ms: i64,
}

impl WindowSpec {
    /// Back-to-back windows of `size_ms`, or an error unless `size_ms > 0`.
    pub fn try_tumbling(size_ms: i64) -> Result<Self, WindowError> {
        Self::try_hopping(size_ms, size_ms)
    }

    /// Windows of `size_ms` starting every `slide_ms`, or an error unless
    /// `0 < slide_ms <= size_ms`.
    pub fn try_hopping(size_ms: i64, slide_ms: i64) -> Result<Self, WindowError> {
        if size_ms <= 0 {
            return Err(WindowError::NonPositiveSize(size_ms));
        }
        if slide_ms <= 0 || slide_ms > size_ms {
            return Err(WindowError::InvalidSlide { size_ms, slide_ms });
        }
        Ok(Self { size_ms, slide_ms })
    }

    /// Back-to-back windows of `size_ms`. Never panics: a size below 1 ms is raised to 1 ms
    /// (use [`try_tumbling`](Self::try_tumbling) to refuse it instead).
    ///
    /// ```
    /// use tributary_operators::{Window, WindowSpec};
    ///
    /// let minute = WindowSpec::tumbling(60_000);
    /// assert_eq!(minute.windows_of(-1).collect::<Vec<_>>(), [Window { start: -60_000, end: 0 }]);
    /// ```
    pub fn tumbling(size_ms: i64) -> Self {
        let size_ms = size_ms.max(1);
        Self {
            size_ms,
            slide_ms: size_ms,
        }
    }

    /// Windows of `size_ms` starting every `slide_ms`. Never panics: the size is raised to at
    /// least 1 ms and the slide clamped to `1..=size` (use [`try_hopping`](Self::try_hopping)
    /// to refuse such values instead).
    ///
    /// ```
    /// use tributary_operators::{Window, WindowSpec};
    ///
    /// let spec = WindowSpec::hopping(10, 5);
    /// assert_eq!(
    ///     spec.windows_of(12).collect::<Vec<_>>(),
    ///     [Window { start: 5, end: 15 }, Window { start: 10, end: 20 }]
    /// );
    /// ```
    pub fn hopping(size_ms: i64, slide_ms: i64) -> Self {
        let size_ms = size_ms.max(1);
        Self {
            size_ms,
            slide_ms: slide_ms.clamp(1, size_ms),
        }
    }

    /// The window length.
    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    /// The distance between consecutive window starts.
    pub fn slide_ms(&self) -> i64 {
        self.slide_ms
    }

    /// The windows holding `ts`, by increasing start: `ceil(size / slide)` or one fewer.
    pub fn windows_of(&self, ts: EventTime) -> Windows {
        let slide = i128::from(self.slide_ms);
        // Computed in i128 so that event times near the ends of i64 cannot overflow.
        let last = i128::from(ts).div_euclid(slide) * slide;
        let mut first = last;
        while first - slide > i128::from(ts) - i128::from(self.size_ms) {
            first -= slide;
        }
        Windows {
            next: first,
            last,
            size: i128::from(self.size_ms),
            slide,
        }
    }
}

/// The windows holding one event time (see [`WindowSpec::windows_of`]).
#[derive(Debug, Clone)]
pub struct Windows {
    next: i128,
    last: i128,
    size: i128,
    slide: i128,
}

impl Iterator for Windows {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        (self.next <= self.last).then(|| {
            let start = self.next;
            self.next += self.slide;
            // Bounds beyond the i64 range (event times within a window of its ends) are
            // clamped to it rather than overflowing.
            Window {
                start: clamp(start),
                end: clamp(start + self.size),
            }
        })
    }
}

fn clamp(t: i128) -> EventTime {
    i64::try_from(t).unwrap_or(if t < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(spec: WindowSpec, ts: i64) -> Vec<Window> {
        let (size, slide) = (spec.size_ms(), spec.slide_ms());
        (-1000..1000)
            .map(|k| k * slide)
            .filter(|start| *start <= ts && ts < start + size)
            .map(|start| Window {
                start,
                end: start + size,
            })
            .collect()
    }

    #[test]
    fn windows_match_a_scan_of_aligned_starts_including_negative_times() {
        for (size, slide) in [(10, 10), (10, 3), (10, 5), (7, 7), (1, 1), (9, 4)] {
            let spec = WindowSpec::try_hopping(size, slide).unwrap();
            for ts in -60..60 {
                assert_eq!(
                    spec.windows_of(ts).collect::<Vec<_>>(),
                    naive(spec, ts),
                    "{size}/{slide} at {ts}"
                );
            }
        }
    }

    #[test]
    fn invalid_specs_are_refused_or_clamped() {
        assert_eq!(WindowSpec::try_tumbling(0), Err(WindowError::NonPositiveSize(0)));
        assert_eq!(
            WindowSpec::try_hopping(10, 11),
            Err(WindowError::InvalidSlide {
                size_ms: 10,
                slide_ms: 11
            })
        );
        assert!(WindowSpec::try_hopping(10, 0).is_err());
        assert_eq!(WindowSpec::hopping(10, 0).slide_ms(), 1);
        assert_eq!(WindowSpec::hopping(10, 50).slide_ms(), 10);
        assert_eq!(WindowSpec::tumbling(-5).size_ms(), 1);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let spec = WindowSpec::hopping(1_000, 300);
        for ts in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
            // Aligned starts in (ts - size, ts], counted in i128.
            let t = i128::from(ts);
            let expected = t.div_euclid(300) - (t - 1_000).div_euclid(300);
            assert_eq!(spec.windows_of(ts).count() as i128, expected, "at {ts}");
        }
        assert!(spec.windows_of(i64::MAX).all(|w| w.end == i64::MAX));
        assert!(spec.windows_of(i64::MIN).all(|w| w.contains(i64::MIN)));
    }
}
