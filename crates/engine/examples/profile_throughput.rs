//! Runs `benches/spiff/ten_tasks.bpmn` N times (env `N`, default 2000) with a bare handler on a
//! current-thread runtime and prints instances per second: a small target for `valgrind
//! --tool=callgrind` when profiling the engine (`cargo build --release -p servicetask-engine
//! --example profile_throughput`).

use servicetask_engine::{Engine, RunOutcome, ServiceCall, ServiceFuture, ServiceResult, TaskHandler};
use std::sync::Arc;
use std::time::Instant;

struct Bare;
impl TaskHandler for Bare {
    fn call(&self, _call: ServiceCall) -> ServiceFuture {
        Box::pin(async { ServiceResult::Complete(serde_json::Map::new()) })
    }
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/spiff/ten_tasks.bpmn");
    let defs = servicetask_bpmn::load_file(std::path::Path::new(path)).expect("benchmark process");
    let n: u64 = std::env::var("N").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = Engine::new(Arc::new(Bare));
    let deployed = engine.deploy(&defs).expect("the benchmark process is valid");
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let mut i = deployed.start("ten_tasks", serde_json::Map::new()).unwrap();
            assert_eq!(i.run().await, RunOutcome::Completed);
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        println!("{n} instances, {rate:.0} instances/s");
    });
}
