//! `servicetask-fuzz`: builds the seed corpus, runs the stable smoke fuzzing, replays inputs.
//!
//! ```text
//! servicetask-fuzz corpus [SHARED_DIR [OUT_DIR]]      seed corpus + dictionaries (default ../shared -> target/fuzz/corpus)
//! servicetask-fuzz smoke [EXECS_PER_TARGET [SEED]]    replay seeds and regressions, then mutate (default 20000, 1)
//! servicetask-fuzz replay TARGET FILE...              run files through one target, with timings
//! servicetask-fuzz probe [MAX_SCALE]                  time large structured inputs (default 16000)
//! ```
//!
//! The binary runs under the same 256 MiB allocation cap as the AFL++ harness.

use servicetask_fuzz::alloc_cap::CappedAllocator;
use servicetask_fuzz::probes::PROBES;
use servicetask_fuzz::smoke::{self, SmokeConfig};
use servicetask_fuzz::{corpus, Target};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator::new();

/// The issue's budget for one input.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The smoke runner's limit: the budget in an optimised build; ten times it in a debug build
/// (CI's), which runs the evaluator's step budget about ten times slower.
fn smoke_timeout() -> Duration {
    if cfg!(debug_assertions) {
        TIMEOUT * 10
    } else {
        TIMEOUT
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match arg(0) {
        Some("corpus") => {
            let shared = arg(1).map_or_else(|| workspace().join("../shared"), PathBuf::from);
            let out = arg(2).map_or_else(|| workspace().join("target/fuzz/corpus"), PathBuf::from);
            match corpus::build(&shared, &out) {
                Ok(counts) => {
                    for (target, n) in counts.seeds {
                        println!("{target}: {n} seeds");
                    }
                    println!("corpus written to {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("smoke") => {
            let parse = |i: usize, default: u64| arg(i).map_or(Ok(default), str::parse);
            let (Ok(execs), Ok(seed)) = (parse(1, 20_000), parse(2, 1)) else {
                eprintln!("usage: servicetask-fuzz smoke [EXECS_PER_TARGET [SEED]]");
                return ExitCode::FAILURE;
            };
            smoke_run(execs, seed)
        }
        Some("probe") => match arg(1).map_or(Ok(16_000), str::parse) {
            Ok(max) => probe(max),
            Err(_) => {
                eprintln!("usage: servicetask-fuzz probe [MAX_SCALE]");
                ExitCode::FAILURE
            }
        },
        Some("replay") if args.len() > 2 => {
            let Some(target) = Target::from_name(&args[1]) else {
                eprintln!("unknown target {}: one of parse, validate, expr, run", args[1]);
                return ExitCode::FAILURE;
            };
            for file in &args[2..] {
                let Ok(data) = std::fs::read(file) else {
                    eprintln!("cannot read {file}");
                    return ExitCode::FAILURE;
                };
                let t0 = Instant::now();
                servicetask_fuzz::alloc_cap::set_current_input(&data);
                target.exec(&data);
                servicetask_fuzz::alloc_cap::clear_current_input();
                println!("{file}: ok in {:?}", t0.elapsed());
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: servicetask-fuzz corpus [SHARED [OUT]] | smoke [EXECS [SEED]] | replay TARGET FILE... | probe [MAX]"
            );
            ExitCode::FAILURE
        }
    }
}

fn smoke_run(execs_per_target: u64, seed: u64) -> ExitCode {
    let corpus = workspace().join("target/fuzz/corpus");
    let cfg = SmokeConfig {
        execs_per_target,
        seed,
        timeout: smoke_timeout(),
        corpus: corpus.is_dir().then_some(corpus),
        regressions: Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions"),
        findings: workspace().join("target/fuzz/findings/smoke"),
    };
    if cfg.corpus.is_none() {
        eprintln!("note: no seed corpus (run `servicetask-fuzz corpus` first): mutating the regressions only");
    }
    println!(
        "smoke run: seed {seed}, {execs_per_target} mutated inputs per target, {:?} per input",
        cfg.timeout
    );
    let reports = smoke::run(&cfg);
    let mut crashes = 0;
    println!("target    replayed      execs   execs/s  slowest  crashes");
    for r in &reports {
        let rate = r.execs as f64 / r.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<8} {:>9} {:>10} {:>9.0} {:>8.1?} {:>8}",
            r.target.name(),
            r.replayed,
            r.execs,
            rate,
            r.slowest,
            r.crashes.len()
        );
        crashes += r.crashes.len();
    }
    if crashes > 0 {
        eprintln!("{crashes} crashing inputs saved under {}", cfg.findings.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Times every probe at scales 1,000, 4,000, 16,000, ... up to `max`; fails when one input
/// takes longer than [`TIMEOUT`].
fn probe(max: usize) -> ExitCode {
    let mut slow = 0;
    println!("{:<52} {:>7} {:>10} {:>12}", "probe (target)", "n", "bytes", "time");
    for p in PROBES {
        let mut n = 1_000;
        while n <= max {
            let input = (p.build)(n);
            servicetask_fuzz::alloc_cap::set_current_input(&input);
            let t0 = Instant::now();
            p.target.exec(&input);
            let took = t0.elapsed();
            servicetask_fuzz::alloc_cap::clear_current_input();
            let flag = if took > TIMEOUT { "  OVER 1 s" } else { "" };
            slow += usize::from(took > TIMEOUT);
            let name = format!("{} ({})", p.name, p.target.name());
            println!("{name:<52} {n:>7} {:>10} {took:>12.1?}{flag}", input.len());
            n *= 4;
        }
    }
    if slow > 0 {
        eprintln!("{slow} probes took longer than {TIMEOUT:?}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
