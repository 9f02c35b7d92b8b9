//! AFL++ harness: one persistent-mode binary for every target, named by its first argument
//! (`servicetask-fuzz-afl parse|validate|expr|run`), under the 256 MiB allocation cap.
//! Build and run it through `crates/fuzz/run.sh`.

use servicetask_fuzz::alloc_cap::CappedAllocator;
use servicetask_fuzz::Target;

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator::new();

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = Target::from_name(&name) else {
        eprintln!("usage: servicetask-fuzz-afl parse|validate|expr|run (got {name:?})");
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        target.exec(data);
    });
}
