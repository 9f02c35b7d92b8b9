//! The fuzz targets' bodies on what they must survive: every kept regression input (each named
//! after what it found), the whole seed corpus built from ../shared, and a short smoke run.

use servicetask_fuzz::smoke::{self, SmokeConfig};
use servicetask_fuzz::{corpus, Target};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

#[test]
fn every_kept_regression_input_runs_clean() {
    let mut seen = 0;
    for target in Target::ALL {
        let dir = regressions().join(target.name());
        for input in smoke::read_inputs(&dir) {
            target.exec(&input);
            seen += 1;
        }
    }
    assert!(seen > 0, "no regression inputs found under {}", regressions().display());
}

#[test]
fn a_smoke_run_executes_every_target_and_finds_nothing_in_the_regressions() {
    let findings = std::env::temp_dir().join(format!("servicetask-fuzz-test-{}", std::process::id()));
    let cfg = SmokeConfig {
        execs_per_target: 200,
        seed: 7,
        timeout: Duration::from_secs(30),
        corpus: None,
        regressions: regressions(),
        findings: findings.clone(),
    };
    let reports = smoke::run(&cfg);
    let _ = std::fs::remove_dir_all(&findings);
    assert_eq!(reports.len(), Target::ALL.len());
    for r in &reports {
        assert_eq!(r.execs, r.replayed + 200, "{:?}", r.target);
        assert!(r.crashes.is_empty(), "{:?} crashed: {:?}", r.target, r.crashes);
    }
}

#[test]
#[ignore = "needs ../shared (run by .ci/run)"]
fn the_seed_corpus_from_shared_runs_clean_through_every_target() {
    assert!(shared().is_dir(), "../shared is missing: {}", shared().display());
    let out = std::env::temp_dir().join(format!("servicetask-fuzz-corpus-{}", std::process::id()));
    let counts = corpus::build(&shared(), &out).expect("the corpus builds");
    for (target, n) in &counts.seeds {
        assert!(*n > 50, "only {n} seeds for {target}");
    }
    for target in Target::ALL {
        let seeds = smoke::read_inputs(&out.join(target.name()));
        assert!(!seeds.is_empty());
        for seed in seeds {
            target.exec(&seed);
        }
        let dict = smoke::read_dictionary(&out.join(format!("{}.dict", target.name())));
        assert!(
            dict.len() > 3,
            "dictionary of {} has {} tokens",
            target.name(),
            dict.len()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// The budget for one input: 1 s in an optimised build (AFL++'s `-t 1000`); ten times
/// it in a debug build, which runs the evaluator's step budget about ten times slower (as the
/// smoke runner allows).
fn time_budget() -> Duration {
    let budget = Duration::from_secs(1);
    if cfg!(debug_assertions) {
        budget * 10
    } else {
        budget
    }
}

/// Every kept input ends within the time budget, among them the hangs AFL++ found past 1 s
/// when the default step budget was 10 million (`while 3:s`, a list of 600,000 copies), and the
/// quadratic list and string operations found in review. Each ended with a budget error, but
/// too late.
#[test]
fn open_findings_end_within_the_time_budget() {
    for target in Target::ALL {
        for input in smoke::read_inputs(&regressions().join(target.name())) {
            let started = std::time::Instant::now();
            target.exec(&input);
            let took = started.elapsed();
            assert!(
                took <= time_budget(),
                "{} took {took:?} on {:?}",
                target.name(),
                String::from_utf8_lossy(&input)
            );
        }
    }
}
