//! A small progress bar on stderr for long CLI operations (CSV imports, projection rebuilds), so
//! an operator sees how far along they are, how fast it goes and when it will end. On a terminal
//! it redraws one line at most ~10 times a second; when stderr is not a terminal (logs, CI) it
//! prints a plain line every few seconds instead, so captured output stays readable.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Least time between two redraws on a terminal.
const TERMINAL_INTERVAL: Duration = Duration::from_millis(100);
/// Least time between two plain lines when stderr is not a terminal.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);
/// Characters inside the bar's brackets.
const BAR_WIDTH: u64 = 30;

/// A progress indicator; share it freely (`&self` methods, `Send + Sync`).
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: Option<u64>,
    unit: String,
    started: Instant,
    terminal: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    done: u64,
    last_draw: Option<Instant>,
    finished: bool,
}

impl Progress {
    /// A progress indicator for `total` units (unknown when `None`), e.g.
    /// `Progress::new("import", Some(file_size), "bytes")`.
    pub fn new(label: &str, total: Option<u64>, unit: &str) -> Self {
        Self {
            label: label.to_string(),
            total,
            unit: unit.to_string(),
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new(State {
                done: 0,
                last_draw: None,
                finished: false,
            }),
        }
    }

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        self.update(|done| done.saturating_add(n));
    }

    /// Sets the units done so far.
    pub fn set(&self, done: u64) {
        self.update(|_| done);
    }

    /// Draws the final state and ends the line; later calls do nothing.
    pub fn finish(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.finished {
            return;
        }
        state.finished = true;
        let line = render(
            &self.label,
            state.done,
            self.total,
            &self.unit,
            self.started.elapsed(),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = if self.terminal {
            writeln!(stderr, "\r{line}\x1b[K")
        } else {
            writeln!(stderr, "{line}")
        };
    }

    fn update(&self, change: impl FnOnce(u64) -> u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.finished {
            return;
        }
        state.done = change(state.done);
        let now = Instant::now();
        let interval = if self.terminal {
            TERMINAL_INTERVAL
        } else {
            PLAIN_INTERVAL
        };
        if state
            .last_draw
            .is_some_and(|last| now.duration_since(last) < interval)
        {
            return;
        }
        state.last_draw = Some(now);
        let line = render(
            &self.label,
            state.done,
            self.total,
            &self.unit,
            now.duration_since(self.started),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(stderr, "\r{line}\x1b[K").and_then(|()| stderr.flush())
        } else {
            writeln!(stderr, "{line}")
        };
    }
}

/// One line: `label [####----] done/total unit  rate unit/s  ETA mm:ss`, or without a total
/// `label done unit  rate unit/s  elapsed mm:ss`.
fn render(label: &str, done: u64, total: Option<u64>, unit: &str, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    match total {
        Some(total) => {
            let shown = done.min(total);
            let filled = (shown * BAR_WIDTH).checked_div(total).unwrap_or(BAR_WIDTH);
            let bar = format!(
                "{}{}",
                "#".repeat(filled as usize),
                "-".repeat((BAR_WIDTH - filled) as usize)
            );
            let eta = if done >= total {
                "00:00".to_string()
            } else if rate > 0.0 {
                clock((total - done) as f64 / rate)
            } else {
                "--:--".to_string()
            };
            format!("{label} [{bar}] {done}/{total} {unit}  {rate:.0} {unit}/s  ETA {eta}")
        }
        None => format!(
            "{label} {done} {unit}  {rate:.0} {unit}/s  elapsed {}",
            clock(seconds)
        ),
    }
}

/// Seconds as `mm:ss` (minutes keep counting past 59).
fn clock(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    format!("{:02}:{:02}", whole / 60, whole % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_total_draws_the_bar_rate_and_eta() {
        let line = render("import", 250, Some(1000), "rows", Duration::from_secs(5));
        assert_eq!(
            line,
            "import [#######-----------------------] 250/1000 rows  50 rows/s  ETA 00:15"
        );
    }

    #[test]
    fn a_finished_run_has_a_full_bar_and_no_eta_left() {
        let line = render("rebuild", 40, Some(40), "events", Duration::from_secs(2));
        assert_eq!(
            line,
            "rebuild [##############################] 40/40 events  20 events/s  ETA 00:00"
        );
    }

    #[test]
    fn an_unknown_total_shows_elapsed_time() {
        let line = render("read", 600, None, "bytes", Duration::from_secs(125));
        assert_eq!(line, "read 600 bytes  5 bytes/s  elapsed 02:05");
    }

    #[test]
    fn nothing_done_yet_has_no_eta() {
        let line = render("x", 0, Some(10), "rows", Duration::ZERO);
        assert!(line.ends_with("0 rows/s  ETA --:--"), "{line}");
    }

    #[test]
    fn updates_after_finish_are_ignored() {
        let progress = Progress::new("test", Some(3), "rows");
        progress.inc(2);
        progress.set(3);
        progress.finish();
        progress.inc(5);
        let done = progress.state.lock().map(|s| s.done).unwrap_or_default();
        assert_eq!(done, 3);
    }
}
