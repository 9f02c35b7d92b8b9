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

/// Open findings: inputs AFL++ saved as hangs (over 1 s per input, instrumented release build)
/// whose fix belongs to the expression evaluator's default budget (`EvalLimits`: 10 million
/// steps, "about a second" per evaluation; the expr target evaluates each input three ways).
/// They end with a clear budget error, but not within the 1 s per input.
#[test]
#[ignore = "open finding for the expression budget (issue 10, item 1); run with: cargo test --release -p servicetask-fuzz -- --ignored open_findings"]
fn open_findings_end_within_the_time_budget() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("open-findings");
    for target in Target::ALL {
        for input in smoke::read_inputs(&dir.join(target.name())) {
            let started = std::time::Instant::now();
            target.exec(&input);
            let took = started.elapsed();
            assert!(
                took <= Duration::from_secs(1),
                "{} took {took:?} on {:?}",
                target.name(),
                String::from_utf8_lossy(&input)
            );
        }
    }
}
