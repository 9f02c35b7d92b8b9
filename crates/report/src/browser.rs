//! Loads a rendered page in headless Chromium and reads back what its inline script counted:
//! the check the tests (and `.ci/run`) make that a report loads, draws every chart with data, and
//! logs no console error.
//!
//! The page's script writes the number of charts (`data-rendered`) and of charts with at least
//! one data mark (`data-with-data`) on a hidden element that also carries the number the renderer
//! drew (`data-expected`); Chromium's `--dump-dom` returns the DOM after the script ran.

use std::path::Path;
use std::process::Command;

/// What the browser saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCheck {
    /// Charts the renderer wrote.
    pub expected: usize,
    /// Charts in the DOM after the page's script ran.
    pub rendered: usize,
    /// Charts with at least one data mark.
    pub with_data: usize,
    /// Console errors and uncaught exceptions logged while loading.
    pub console_errors: Vec<String>,
}

/// The Chromium binary, if installed.
pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// Loads `page` (an HTML file) in headless Chromium; `Ok(None)` when Chromium is not installed.
pub fn check_page(page: &Path) -> Result<Option<PageCheck>, String> {
    let Some(chromium) = chromium() else {
        return Ok(None);
    };
    let profile = page.with_extension("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| format!("running {chromium}: {e}"))?;
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("chromium failed: {log}"));
    }
    let attr = |name: &str| -> Result<usize, String> {
        let key = format!("{name}=\"");
        let start = dom
            .find(&key)
            .ok_or_else(|| format!("no {name} in the DOM; it starts {}", &dom[..dom.len().min(300)]))?
            + key.len();
        dom[start..]
            .split('"')
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} is not a number"))
    };
    Ok(Some(PageCheck {
        expected: attr("data-expected")?,
        rendered: attr("data-rendered")?,
        with_data: attr("data-with-data")?,
        console_errors: log
            .lines()
            .filter(|l| l.contains("CONSOLE") && (l.contains("ERROR") || l.contains("Uncaught")))
            .map(str::to_string)
            .collect(),
    }))
}

/// Whether a missing Chromium fails the check (`SERVICETASK_REQUIRE_CHROMIUM=1`, set by `.ci/run`).
pub fn chromium_required() -> bool {
    std::env::var("SERVICETASK_REQUIRE_CHROMIUM").as_deref() == Ok("1")
}
