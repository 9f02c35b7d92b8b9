//! The stable smoke runner: replays every seed and kept regression input of each target, then
//! runs a fixed number of mutated inputs ([`crate::mutate`]), in process, with a per-input time
//! limit enforced by a watchdog thread. It needs no AFL++ and runs in CI; it finds shallow bugs
//! only (no coverage feedback).
//!
//! A panic is caught, its input saved under the findings directory and counted; a run past the
//! time limit saves its input, prints it and ends the process with status 3 (a hung input
//! cannot be stopped from inside); the allocation cap aborts (see [`crate::alloc_cap`]).

use rand::rngs::StdRng;
use rand::SeedableRng;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::alloc_cap;
use crate::mutate::mutate;
use crate::targets::Target;

/// What a smoke run does.
#[derive(Debug, Clone)]
pub struct SmokeConfig {
    /// Mutated executions per target (seeds and regressions are replayed on top).
    pub execs_per_target: u64,
    /// The random seed (a run is reproducible from it).
    pub seed: u64,
    /// Longest one input may run.
    pub timeout: Duration,
    /// Seed corpus root (`<dir>/<target>/*`, `<dir>/<target>.dict`); absent directories are skipped.
    pub corpus: Option<PathBuf>,
    /// Kept regression inputs (`<dir>/<target>/*`).
    pub regressions: PathBuf,
    /// Where inputs that panicked or hung are written (`<dir>/<target>/`).
    pub findings: PathBuf,
}

/// What a smoke run did for one target.
#[derive(Debug, Clone)]
pub struct TargetReport {
    /// The target.
    pub target: Target,
    /// Inputs replayed from the corpus and the regressions.
    pub replayed: u64,
    /// Executions in all (replayed and mutated).
    pub execs: u64,
    /// Inputs that panicked, as saved.
    pub crashes: Vec<PathBuf>,
    /// The slowest execution.
    pub slowest: Duration,
    /// Wall time for the target.
    pub elapsed: Duration,
}

/// Reads every file of `dir` (sorted); none when it does not exist.
pub fn read_inputs(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Reads an AFL++ dictionary (`"token"` lines with `\xNN`, `\"`, `\\` escapes).
pub fn read_dictionary(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix('"').map(unescape))
        .collect()
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() + 1 {
            if let Some(v) = s.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        if b[i] == b'\\' && i + 1 < b.len() {
            out.push(b[i + 1]);
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The input running now and since when (nanoseconds after the run's start; 0 = idle), shared
/// with the watchdog.
struct Current {
    target: Mutex<Target>,
    input: Mutex<Vec<u8>>,
    since_ns: AtomicU64,
}

/// Runs the smoke fuzzing over every target.
pub fn run(cfg: &SmokeConfig) -> Vec<TargetReport> {
    let epoch = Instant::now();
    let current = Arc::new(Current {
        target: Mutex::new(Target::Parse),
        input: Mutex::new(Vec::new()),
        since_ns: AtomicU64::new(0),
    });
    spawn_watchdog(current.clone(), epoch, cfg.timeout, cfg.findings.clone());
    let panics: Arc<Mutex<String>> = Arc::default();
    let hook_sink = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        *hook_sink.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
    }));
    let reports = Target::ALL
        .iter()
        .map(|&t| run_target(t, cfg, &current, epoch, &panics))
        .collect();
    let _ = std::panic::take_hook();
    reports
}

fn spawn_watchdog(current: Arc<Current>, epoch: Instant, timeout: Duration, findings: PathBuf) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50));
        let since = current.since_ns.load(Ordering::Acquire);
        if since == 0 || epoch.elapsed().saturating_sub(Duration::from_nanos(since)) <= timeout {
            continue;
        }
        let target = *current.target.lock().unwrap_or_else(|e| e.into_inner());
        // the main thread holds no lock while it executes, so this copy is the hung input
        let input = current.input.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let saved = save(&findings, target, "hang", &input);
        eprintln!(
            "fuzz: {} ran past {timeout:?} on an input of {} bytes, saved as {}",
            target.name(),
            input.len(),
            saved.display()
        );
        std::process::exit(3);
    });
}

/// Writes a finding's input under `findings/<target>/<kind>-<hash>` and returns the path.
fn save(findings: &Path, target: Target, kind: &str, input: &[u8]) -> PathBuf {
    let dir = findings.join(target.name());
    let _ = std::fs::create_dir_all(&dir);
    // FNV-1a: a stable name for the same input
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{kind}-{hash:016x}"));
    let _ = std::fs::write(&path, input);
    path
}

fn run_target(
    target: Target,
    cfg: &SmokeConfig,
    current: &Current,
    epoch: Instant,
    panics: &Mutex<String>,
) -> TargetReport {
    let start = Instant::now();
    *current.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
    let mut seeds = read_inputs(&cfg.regressions.join(target.name()));
    let mut dict = Vec::new();
    if let Some(corpus) = &cfg.corpus {
        seeds.extend(read_inputs(&corpus.join(target.name())));
        dict = read_dictionary(&corpus.join(format!("{}.dict", target.name())));
    }
    let dict: Vec<&[u8]> = dict.iter().map(Vec::as_slice).collect();
    let mut report = TargetReport {
        target,
        replayed: seeds.len() as u64,
        execs: 0,
        crashes: Vec::new(),
        slowest: Duration::ZERO,
        elapsed: Duration::ZERO,
    };
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ target.name().len() as u64);
    let exec = |input: &[u8], report: &mut TargetReport| {
        {
            let mut cur = current.input.lock().unwrap_or_else(|e| e.into_inner());
            cur.clear();
            cur.extend_from_slice(input);
        }
        let t0 = Instant::now();
        current
            .since_ns
            .store((t0 - epoch).as_nanos().max(1) as u64, Ordering::Release);
        alloc_cap::set_current_input(input);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| target.exec(input)));
        alloc_cap::clear_current_input();
        current.since_ns.store(0, Ordering::Release);
        report.slowest = report.slowest.max(t0.elapsed());
        report.execs += 1;
        if outcome.is_err() {
            let path = save(&cfg.findings, target, "crash", input);
            let msg = std::mem::take(&mut *panics.lock().unwrap_or_else(|e| e.into_inner()));
            eprintln!(
                "fuzz: {} panicked ({}), saved as {}",
                target.name(),
                first_line(&msg),
                path.display()
            );
            report.crashes.push(path);
        }
    };
    for seed in &seeds {
        exec(seed, &mut report);
    }
    let empty = vec![Vec::new()];
    let pool = if seeds.is_empty() { &empty } else { &seeds };
    let mut input = Vec::new();
    for _ in 0..cfg.execs_per_target {
        input.clone_from(&pool[rand::Rng::random_range(&mut rng, 0..pool.len())]);
        mutate(&mut rng, &mut input, &dict, pool);
        exec(&input, &mut report);
    }
    report.elapsed = start.elapsed();
    report
}

fn first_line(msg: &str) -> &str {
    msg.lines().next().unwrap_or("no message")
}
