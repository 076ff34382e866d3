//! Replay progress: an `indicatif` bar (events/s, ETA) when stderr is a terminal, a plain
//! log line every few seconds otherwise (CI logs, files).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tributary::connectors::history::ReplayProgress;

/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(100);
/// How often a log line is written when there is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Reports a replay's progress from a thread of its own until [`finish`](Self::finish).
#[derive(Debug)]
pub struct Reporter {
    progress: Arc<ReplayProgress>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts reporting `progress`.
    pub fn spawn(progress: Arc<ReplayProgress>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (progress.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            if std::io::stderr().is_terminal() {
                draw_bar(&seen, &stopped);
            } else {
                log_lines(&seen, &stopped);
            }
        });
        Self {
            progress,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops reporting; returns how many records were replayed.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            // A reporter that panicked only loses its display.
            let _ = thread.join();
        }
        self.progress.emitted.load(Ordering::Relaxed)
    }
}

fn draw_bar(progress: &ReplayProgress, stop: &AtomicBool) {
    let bar = ProgressBar::new(progress.total.load(Ordering::Relaxed));
    if let Ok(style) = ProgressStyle::with_template(
        "replay [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {per_sec} ETA {eta}",
    ) {
        bar.set_style(style);
    }
    while !stop.load(Ordering::Acquire) {
        bar.set_position(progress.emitted.load(Ordering::Relaxed));
        std::thread::sleep(BAR_TICK);
    }
    bar.set_position(progress.emitted.load(Ordering::Relaxed));
    bar.finish();
}

fn log_lines(progress: &ReplayProgress, stop: &AtomicBool) {
    let started = Instant::now();
    let mut last_log = Instant::now();
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(BAR_TICK);
        if last_log.elapsed() < LOG_EVERY {
            continue;
        }
        last_log = Instant::now();
        let emitted = progress.emitted.load(Ordering::Relaxed);
        let total = progress.total.load(Ordering::Relaxed);
        let rate = emitted as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let eta_s = if rate > 0.0 {
            total.saturating_sub(emitted) as f64 / rate
        } else {
            f64::INFINITY
        };
        tracing::info!(
            emitted,
            total,
            events_per_s = rate.round(),
            eta_s = eta_s.round(),
            "replaying"
        );
    }
}
