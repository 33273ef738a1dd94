//! A one-line progress bar on stderr, redrawn at most ten times a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(100);
const WIDTH: usize = 30;

pub(crate) struct Progress {
    enabled: bool,
    label: String,
    total: Option<u64>,
    done: u64,
    /// Bytes already on disk when this run started (not counted in the speed).
    resumed: u64,
    start: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    /// Draws only when asked to and stderr is a terminal.
    pub(crate) fn new(wanted: bool, label: &str) -> Progress {
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            label: label.to_string(),
            total: None,
            done: 0,
            resumed: 0,
            start: Instant::now(),
            last_draw: None,
        }
    }

    pub(crate) fn begin(&mut self, done: u64, total: Option<u64>) {
        self.done = done;
        self.resumed = done;
        self.total = total;
        self.start = Instant::now();
        self.draw(true);
    }

    pub(crate) fn advance(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        self.draw(false);
    }

    pub(crate) fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            self.draw(true);
            eprintln!();
        }
        self.last_draw = None;
    }

    fn draw(&mut self, force: bool) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .last_draw
                .is_some_and(|t| now.duration_since(t) < REDRAW)
        {
            return;
        }
        self.last_draw = Some(now);
        let line = render(
            &self.label,
            self.done,
            self.total,
            self.done.saturating_sub(self.resumed),
            now.duration_since(self.start),
        );
        let mut err = std::io::stderr().lock();
        // A failed write to stderr is not worth failing the download for.
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }
}

/// `label  42% [############..................] 1.2 GiB / 2.9 GiB  35.0 MiB/s  ETA 0:48`
pub(crate) fn render(
    label: &str,
    done: u64,
    total: Option<u64>,
    fresh: u64,
    elapsed: Duration,
) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { fresh as f64 / secs } else { 0.0 };
    let mut s = format!("{label} ");
    match total {
        Some(t) if t > 0 => {
            let frac = (done as f64 / t as f64).clamp(0.0, 1.0);
            let filled = ((frac * WIDTH as f64) as usize).min(WIDTH);
            s.push_str(&format!(
                "{:>3}% [{}{}] {} / {}",
                (frac * 100.0) as u32,
                "#".repeat(filled),
                ".".repeat(WIDTH - filled),
                human(done),
                human(t)
            ));
            if rate > 0.0 && done < t {
                let eta = ((t - done) as f64 / rate) as u64;
                s.push_str(&format!(
                    "  {}/s  ETA {}:{:02}",
                    human(rate as u64),
                    eta / 60,
                    eta % 60
                ));
            }
        }
        _ => {
            s.push_str(&human(done));
            if rate > 0.0 {
                s.push_str(&format!("  {}/s", human(rate as u64)));
            }
        }
    }
    s
}

pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_bar_and_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024 * 1024), "3.0 GiB");
        let line = render("x.gguf", 50, Some(100), 50, Duration::from_secs(1));
        assert!(line.starts_with("x.gguf  50% ["), "{line}");
        assert!(
            line.contains(&format!("{}{}", "#".repeat(15), ".".repeat(15))),
            "{line}"
        );
        assert!(line.contains("50 B / 100 B"), "{line}");
        assert!(line.contains("ETA 0:01"), "{line}");
        let line = render("x", 2048, None, 0, Duration::ZERO);
        assert_eq!(line, "x 2.0 KiB");
    }
}
